"""A scriptable HTTP(S) server on 127.0.0.1 for the remote key source tests.

Each path answers with a `Reply` the test sets; the server counts hits per path, can
answer slowly (a stall before the status line, a body or header trickled byte by byte),
and stops by itself: every wait is on one event that `serve()` sets when the test ends.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What one path answers."""

    body: Any = b""  # bytes as is; anything else is sent as JSON
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before anything is sent
    trickle: float = 0.0  # seconds between the bytes of the body
    trickle_head: float = 0.0  # seconds between the bytes of the status line and headers
    content_length: bool = True  # False: the body ends when the connection closes

    def payload(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


class Server:
    """The running server: its base URL, its routes and what it has seen."""

    def __init__(self, httpd: ThreadingHTTPServer, scheme: str) -> None:
        self.httpd = httpd
        host, port = httpd.server_address[:2]
        self.url = f"{scheme}://{host}:{port}"
        self.routes: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        self.request_headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def route(self, path: str, reply: Reply) -> str:
        """Answer `path` with `reply` from now on; return its full URL."""
        self.routes[path] = reply
        return self.url + path

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits[path]


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            state.hits[self.path] += 1
            state.request_headers.append(dict(self.headers.items()))
        reply = state.routes.get(self.path, Reply(status=404, body={"error": "not_found"}))
        if reply.delay and state.stopping.wait(reply.delay):
            return
        payload = reply.payload()
        head = f"HTTP/1.1 {reply.status} Status\r\n"
        headers = {"Content-Type": "application/json", "Connection": "close", **reply.headers}
        if reply.content_length:
            headers.setdefault("Content-Length", str(len(payload)))
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        try:
            self._send(head.encode(), reply.trickle_head, state.stopping)
            self._send(payload, reply.trickle, state.stopping)
        except OSError:
            pass  # the client gave up, as the slow replies intend
        self.close_connection = True

    def _send(self, data: bytes, pause: float, stopping: threading.Event) -> None:
        if not pause:
            self.wfile.write(data)
            self.wfile.flush()
            return
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            if stopping.wait(pause):
                return

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: Server

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is expected here


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """Run a server on 127.0.0.1 (port chosen by the system) until the block ends."""
    httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state = Server(httpd, "https" if tls is not None else "http")
    httpd.state = state
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
