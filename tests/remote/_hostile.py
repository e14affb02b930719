"""A hostile HTTP server on 127.0.0.1: it trickles, stalls, compresses and redirects.

Each connection is answered by the `Behaviour` the test chose, byte by byte over a real
socket, so the client's real code meets it. The server counts the requests it reads and
stops by itself: every wait is on one event that `hostile()` sets when the test ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

#: What the server does once it has read a request: write to the socket until told to stop.
Behaviour = Callable[[socket.socket, threading.Event], None]


@dataclass
class Hostile:
    url: str
    behaviour: Behaviour
    requests: list[bytes] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)


def _read_request(conn: socket.socket, stopping: threading.Event) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        if stopping.is_set():
            return None
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            while len(body) < int(value):
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                body += chunk
    return head


def _serve(listener: socket.socket, state: Hostile) -> None:
    threads = []
    while not state.stopping.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        conn.settimeout(0.05)
        thread = threading.Thread(target=_answer, args=(conn, state), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=5)


def _answer(conn: socket.socket, state: Hostile) -> None:
    with conn:
        head = _read_request(conn, state.stopping)
        if head is None:
            return
        with state.lock:
            state.requests.append(head)
        with suppress(OSError):  # the client gave up, as these answers intend
            state.behaviour(conn, state.stopping)


@contextmanager
def hostile(behaviour: Behaviour) -> Iterator[Hostile]:
    """Run a server answering every request with `behaviour` until the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.05)
    state = Hostile(f"http://127.0.0.1:{listener.getsockname()[1]}", behaviour)
    thread = threading.Thread(target=_serve, args=(listener, state), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        thread.join(timeout=10)
        listener.close()


# -- behaviours -----------------------------------------------------------------------------


def trickle_head(pause: float = 0.1) -> Behaviour:
    """Send the status line and headers one byte per `pause`: every read gets a byte."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        for i in range(len(head)):
            conn.sendall(head[i : i + 1])
            if stopping.wait(pause):
                return
        conn.sendall(b'{"keys": []}')

    return behave


def trickle_body(pause: float = 0.1) -> Behaviour:
    """Send the head at once, then a long body one byte per `pause`."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        body = b'{"keys": [], "active": true, "padding": "' + b"x" * 200 + b'"}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(len(body)):
            conn.sendall(body[i : i + 1])
            if stopping.wait(pause):
                return

    return behave


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    """Accept, read the request, and never answer."""
    stopping.wait(30)


def compressed(encoding: str, body: bytes) -> Behaviour:
    """Answer 200 at once with `body` sent as is under `Content-Encoding: encoding`."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        conn.sendall(head.encode() + body)

    return behave


def redirect(location: str) -> Behaviour:
    """Answer 302 to `location`."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
        )

    return behave


def json_answer(body: bytes) -> Behaviour:
    """Answer 200 with a JSON body."""

    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        conn.sendall(head.encode() + b"\r\n\r\n" + body)

    return behave
