"""`BearerBackend` behind Starlette's `AuthenticationMiddleware`, through its `TestClient`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError, requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from accesstoken import TokenUser, Verifier
from accesstoken.starlette import BearerBackend

from ._support import Tokens, assert_refused, assert_unavailable, bearer, mint, serve_asgi


async def whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "user": user.display_name,
            "authenticated": user.is_authenticated,
            "scopes": sorted(request.auth.scopes),
        }
    )


@requires("orders:write")
async def write(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity})


@requires("authenticated")
async def private(request: Request) -> JSONResponse:
    assert isinstance(request.user, TokenUser)
    return JSONResponse({"sub": request.user.identity, "roles": sorted(request.user.roles)})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.identity})
    await websocket.close()


def app(verifier: Verifier, **options: Any) -> Starlette:
    backend = BearerBackend(verifier, **options)
    middleware = Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)
    routes = [
        Route("/whoami", whoami),
        Route("/write", write),
        Route("/private", private),
        WebSocketRoute("/ws", echo),
    ]
    return Starlette(routes=routes, middleware=[middleware])


def client(verifier: Verifier, **options: Any) -> TestClient:
    return TestClient(app(verifier, **options))


def test_valid_token_gives_a_token_user_and_its_scopes(verifier: Verifier, tokens: Tokens) -> None:
    response = client(verifier).get("/whoami", headers=bearer(tokens.reader))
    assert response.json() == {
        "user": "alice",
        "authenticated": True,
        "scopes": ["authenticated", "orders:read"],
    }


def test_no_token_is_starlette_anonymous(verifier: Verifier) -> None:
    anonymous = client(verifier)
    assert anonymous.get("/whoami").json() == {
        "user": "",
        "authenticated": False,
        "scopes": [],
    }
    assert anonymous.get("/private").status_code == 403  # @requires decides, as in Starlette


MALFORMED = [[("Authorization", v)] for v in ("Bearer", "Bearer  abc", "Bearer a b", "Bearer a=b")]


@pytest.mark.parametrize("headers", [*MALFORMED, [("Authorization", "Bearer abc")] * 2])
def test_malformed_or_repeated_header_is_400(verifier: Verifier, headers: Any) -> None:
    assert_refused(client(verifier).get("/whoami", headers=headers), 400, "invalid_request")


@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_401(verifier: Verifier, tokens: Tokens, name: str) -> None:
    response = client(verifier).get("/whoami", headers=bearer(getattr(tokens, name)))
    assert_refused(response, 401, "invalid_token")
    assert getattr(tokens, name) not in response.text


def test_realm_is_in_the_challenge(verifier: Verifier, tokens: Tokens) -> None:
    response = client(verifier, realm="orders").get("/whoami", headers=bearer(tokens.expired))
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="orders", ')


def test_requires_checks_the_token_scopes(verifier: Verifier, tokens: Tokens) -> None:
    assert client(verifier).get("/write", headers=bearer(tokens.reader)).status_code == 403
    writer = bearer(mint(scope="orders:read orders:write"))
    assert client(verifier).get("/write", headers=writer).json() == {"sub": "alice"}


def test_roles_are_on_the_user(verifier: Verifier, tokens: Tokens) -> None:
    response = client(verifier).get("/private", headers=bearer(tokens.admin))
    assert response.json() == {"sub": "alice", "roles": ["admin"]}


def test_key_source_down_is_503_with_retry_after(down_verifier: Verifier, tokens: Tokens) -> None:
    assert_unavailable(client(down_verifier).get("/whoami", headers=bearer(tokens.reader)))


def test_websocket_with_a_valid_token(verifier: Verifier, tokens: Tokens) -> None:
    with client(verifier).websocket_connect("/ws", headers=bearer(tokens.reader)) as websocket:
        assert websocket.receive_json() == {"sub": "alice"}


def test_websocket_with_an_invalid_token_is_closed(verifier: Verifier, tokens: Tokens) -> None:
    connecting = client(verifier).websocket_connect("/ws", headers=bearer(tokens.expired))
    with pytest.raises(WebSocketDisconnect), connecting:
        pass


def test_another_backends_error_gets_starlettes_answer() -> None:
    response = BearerBackend.on_error(HTTPConnection({"type": "http"}), AuthenticationError("no"))
    assert (response.status_code, bytes(response.body)) == (400, b"no")


def test_a_real_server(verifier: Verifier, tokens: Tokens) -> None:
    with serve_asgi(app(verifier)) as url:
        assert httpx.get(f"{url}/whoami", headers=bearer(tokens.reader)).status_code == 200
        refused = httpx.get(f"{url}/whoami", headers=bearer(tokens.expired))
        assert_refused(refused, 401, "invalid_token")
