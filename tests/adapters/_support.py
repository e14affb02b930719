"""Helpers of the adapter tests: minting tokens, checking refusals, real servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from joserfc import jwt
from joserfc.jwk import OctKey
from werkzeug.serving import make_server

from accesstoken import AccessToken, KeySet, KeySource, KeySourceUnavailable, TokenVerifier

SECRET = b"adapter-tests-secret-of-32-bytes!"
ISSUER = "https://issuer.test/"
AUDIENCE = "orders-api"


def mint(
    *,
    secret: bytes = SECRET,
    expires_in: int = 300,
    scope: str | None = "orders:read",
    roles: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """Return an HS256 token for the tests' issuer and audience, with `claims` on top."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + expires_in,
    }
    if scope is not None:
        body["scope"] = scope
    if roles:
        body["roles"] = list(roles)
    body.update(claims)
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, body, OctKey.import_key(secret))


def tamper(token: str) -> str:
    """Return `token` with one character of its payload changed."""
    header, payload, signature = token.split(".")
    flipped = "A" if payload[5] != "A" else "B"
    return ".".join((header, payload[:5] + flipped + payload[6:], signature))


@dataclass(frozen=True)
class Tokens:
    """One token per outcome the adapters must tell apart."""

    reader: str
    admin: str
    no_scope: str
    expired: str
    wrong_audience: str
    wrong_key: str
    tampered: str


class UnreachableKeys(KeySource):
    """A key source whose identity provider is down, with no cached keys."""

    def key_set(self) -> KeySet:
        raise KeySourceUnavailable()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def json_of(response: Any) -> Any:
    """Return the JSON body of an httpx, Starlette or Flask test response."""
    return response.json() if callable(response.json) else response.json


def assert_refused(
    response: httpx.Response | Any,
    status: int,
    error: str | None,
    *,
    nested: bool = False,
) -> dict[str, Any]:
    """Check an RFC 6750 refusal: status, JSON body and `WWW-Authenticate`; return the body.

    `nested` reads FastAPI's default `{"detail": {...}}` body.
    """
    assert response.status_code == status
    body: dict[str, Any] = json_of(response)["detail"] if nested else json_of(response)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    if error is None:
        assert "error" not in body
        assert "error" not in challenge
    else:
        assert body["error"] == error
        assert body["error_description"]
        assert f'error="{error}"' in challenge
    return body


def assert_unavailable(response: httpx.Response | Any, *, nested: bool = False) -> None:
    """Check a 503 that does not blame the token."""
    assert response.status_code == 503
    body = json_of(response)["detail"] if nested else json_of(response)
    assert body["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in response.headers


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1 in a thread; yield its base URL; stop on exit."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive()


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Run a WSGI app under werkzeug's server on 127.0.0.1 in a thread; stop on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class AsyncOnly:
    """A verifier that fails the test if the blocking `verify()` is called."""

    def __init__(self, inner: TokenVerifier) -> None:
        self.inner = inner
        self.calls = 0

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        raise AssertionError("verify() blocks the event loop; verify_async() was expected")

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        self.calls += 1
        return await self.inner.verify_async(raw, scopes)
