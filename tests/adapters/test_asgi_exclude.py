"""`exclude=` never lets a path through that the app behind serves as another one.

The finding: with `exclude=("/health",)`, `GET /health/../report.txt` skipped authentication,
and Starlette's `StaticFiles` (which normalises the path) served the protected file. Each
request goes through Starlette's test client and through a real uvicorn server, the latter
over a raw socket so that no client normalises the path before it is sent.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from accesstoken import TokenVerifier
from accesstoken.asgi import AccessTokenMiddleware, Receive, Scope, Send

from ._support import Tokens, assert_refused, bearer, serve_asgi

SECRET = "the quarterly figures"

# The protected file, reached from below the excluded "/health": as uvicorn hands these to
# the app (percent-decoded), and as Starlette's test client does (it decodes the path too,
# while its httpx client would resolve literal dot segments before sending them).
DOTTED = ["/health/../report.txt", "/health/%2e%2e/report.txt", "/health/./../report.txt"]
ENCODED = [
    "/health/%2e%2e/report.txt",
    "/health/%2e/%2e%2e/report.txt",
    "/health/%2E%2E/report.txt",
]
# Paths with more than one reading: never excluded either, whatever they name.
AMBIGUOUS = [
    "/health/%252e%252e/report.txt",  # "%2e%2e" once decoded: a proxy may decode again
    "/health//report.txt",
    "/health/..%5creport.txt",  # a backslash
    "/health/%2e%2e",
    "/health/%2e",
]


async def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def nothing(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("not called")


def files_app(directory: Path) -> Starlette:
    """Health routes, and a directory served by `StaticFiles` at the root: "/report.txt"."""
    (directory / "report.txt").write_text(SECRET)
    return Starlette(
        routes=[
            Route("/health", health),
            Route("/health/live", health),
            Mount("/", StaticFiles(directory=directory)),
        ]
    )


@pytest.fixture
def app(tmp_path: Path, verifier: TokenVerifier) -> AccessTokenMiddleware:
    return AccessTokenMiddleware(files_app(tmp_path), verifier, exclude=("/health",))


def test_the_file_is_protected_and_served(app: AccessTokenMiddleware, tokens: Tokens) -> None:
    client = TestClient(app)
    assert_refused(client.get("/report.txt"), 401, None)
    assert client.get("/report.txt", headers=bearer(tokens.reader)).text == SECRET


@pytest.mark.parametrize("path", ENCODED + AMBIGUOUS)
def test_dot_segments_below_an_excluded_path_are_authenticated(
    app: AccessTokenMiddleware, path: str
) -> None:
    response = TestClient(app).get(path)
    assert_refused(response, 401, None)
    assert SECRET not in response.text


@pytest.mark.parametrize("path", ["/health", "/health/live"])
def test_excluded_paths_still_pass(app: AccessTokenMiddleware, path: str) -> None:
    assert TestClient(app).get(path).text == "ok"


def test_a_dotted_path_with_a_token_is_served_as_usual(
    app: AccessTokenMiddleware, tokens: Tokens
) -> None:
    response = TestClient(app).get(ENCODED[0], headers=bearer(tokens.reader))
    assert response.text == SECRET  # authenticated, then normalised by StaticFiles


def raw_get(url: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Send `GET target` exactly as written over a socket; return the status and body."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode("latin-1")


def test_real_uvicorn_server_refuses_dot_segments(
    app: AccessTokenMiddleware, tokens: Tokens
) -> None:
    with serve_asgi(app) as url:
        for path in DOTTED + AMBIGUOUS:
            status, body = raw_get(url, path)
            assert status == 401, path
            assert SECRET not in body
        assert raw_get(url, "/health") == (200, "ok")
        assert raw_get(url, "/health/live") == (200, "ok")
        assert raw_get(url, "/report.txt", bearer(tokens.reader)) == (200, SECRET)
        assert raw_get(url, DOTTED[0], bearer(tokens.reader)) == (200, SECRET)


def mounted(at: str, inner: Any, verifier: TokenVerifier) -> TestClient:
    """Return a client of `inner`, guarded with `exclude=("/health",)`, mounted at `at`."""
    guarded = AccessTokenMiddleware(inner, verifier, exclude=("/health",))
    return TestClient(Starlette(routes=[Mount(at, guarded)]))


def test_excluded_paths_are_matched_below_the_root_path(
    tmp_path: Path, verifier: TokenVerifier
) -> None:
    api = mounted("/api", files_app(tmp_path), verifier)
    assert api.get("/api/health/live").text == "ok"
    assert_refused(api.get("/api/report.txt"), 401, None)
    assert_refused(api.get("/api/health/%2e%2e/report.txt"), 401, None)
    # Mounted at "/health", the app routes "/health/report.txt" as "/report.txt".
    assert_refused(
        mounted("/health", files_app(tmp_path), verifier).get("/health/report.txt"), 401, None
    )


@pytest.mark.parametrize("exclude", [("/",), ("",), ("//",), ("/health", "/")])
def test_excluding_everything_is_refused(verifier: TokenVerifier, exclude: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="every path"):
        AccessTokenMiddleware(nothing, verifier, exclude=exclude)


@pytest.mark.parametrize("entry", ["health", "/health/../admin", "/health/./x", "/a//b", "/a%2e"])
def test_an_entry_must_be_a_plain_path_from_the_root(verifier: TokenVerifier, entry: str) -> None:
    with pytest.raises(ValueError, match="plain path"):
        AccessTokenMiddleware(nothing, verifier, exclude=(entry,))


def test_an_entry_must_be_a_string(verifier: TokenVerifier) -> None:
    with pytest.raises(TypeError):
        AccessTokenMiddleware(nothing, verifier, exclude=(b"/health",))  # type: ignore[arg-type]
