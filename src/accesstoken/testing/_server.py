"""A real HTTP server on 127.0.0.1, run in a daemon thread, answering from a route table.

Tests of key sources and adapters should cross a real socket: a mocked transport never
shows a timeout, a closed port or a connection that outlives its test. The standard
library's `ThreadingHTTPServer` is enough for that and adds no dependency.

The server knows nothing about OAuth: it turns each request into a `Request`, asks an
application (a plain callable) for a `Response`, and writes it out. `route()` builds such
an application from a table of `(method, path)` entries, so a new endpoint (say, RFC 7662
introspection) is one more entry in the table.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["App", "Request", "Response", "route", "serve_in_thread"]

#: Request bodies larger than this are refused with 413; test clients never need more.
MAX_BODY_BYTES = 65_536


@dataclass(frozen=True)
class Request:
    """One HTTP request as the application sees it."""

    method: str
    path: str  # without the query string
    query: str
    headers: Message
    body: bytes

    def form(self) -> dict[str, list[str]]:
        """Return the `application/x-www-form-urlencoded` body, each name with all its values.

        A body of another content type reads as an empty form.
        """
        content_type = self.headers.get_content_type()
        if content_type != "application/x-www-form-urlencoded":
            return {}
        try:
            return parse_qs(self.body.decode("ascii"), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}


@dataclass(frozen=True)
class Response:
    """One HTTP response: status, headers and body."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, document: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Return a response whose body is `document` as JSON."""
        body = json.dumps(document).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


#: An application: the whole behaviour of a server, one request at a time.
App = Callable[[Request], Response]


def route(routes: Mapping[tuple[str, str], App]) -> App:
    """Return an application that hands each request to the entry for its method and path.

    A path in no entry answers 404; a known path asked with another method answers 405
    with an `Allow` header.
    """

    def app(request: Request) -> Response:
        handler = routes.get((request.method, request.path))
        if handler is not None:
            return handler(request)
        allowed = sorted(method for method, path in routes if path == request.path)
        if allowed:
            return Response(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": ", ".join(allowed)})
        return Response(HTTPStatus.NOT_FOUND)

    return app


@contextmanager
def serve_in_thread(app: App) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 on a free port while the context lasts.

    The server runs in a daemon thread, so it never keeps the process alive; on exit it
    stops, waits for its thread and closes its socket, so the port refuses connections
    afterwards.

    Yields:
        The base URL, `http://127.0.0.1:<port>`, without a trailing slash.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(app))
    server.daemon_threads = True
    # shutdown() waits for the loop to notice it, up to one poll interval (0.5 s by default).
    thread = threading.Thread(
        target=server.serve_forever, args=(0.01,), name="accesstoken-testing", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def _handler_class(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so no idle keep-alive connection survives
        # the server and a stopped server really refuses the next request.
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_HEAD(self) -> None:
            self._answer()

        def _answer(self) -> None:
            declared = self.headers.get("Content-Length") or "0"
            length = int(declared) if declared.isascii() and declared.isdigit() else -1
            if length < 0:
                self._write(Response(HTTPStatus.BAD_REQUEST))
                return
            if length > MAX_BODY_BYTES:
                # Read and drop the body: closing a socket with unread data resets the
                # connection, and the client would see a reset instead of the 413.
                while length > 0 and (chunk := self.rfile.read(min(length, MAX_BODY_BYTES))):
                    length -= len(chunk)
                self._write(Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE))
                return
            url = urlsplit(self.path)
            body = self.rfile.read(length) if length > 0 else b""
            self._write(app(Request(self.command, url.path, url.query, self.headers, body)))

        def _write(self, response: Response) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean: requests are counted by the application instead."""

    return Handler
