"""`AccessTokenMiddleware` through Starlette's test client and a real uvicorn server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from accesstoken import TokenVerifier
from accesstoken.asgi import AccessTokenMiddleware, ASGIApp, Message, Receive, Scope, Send

from ._support import Tokens, assert_refused, assert_unavailable, bearer, serve_asgi


async def whoami(request: Request) -> JSONResponse:
    token = request.state.access_token
    return JSONResponse({"sub": token.subject if token else None})


async def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.state.access_token.subject})
    await websocket.close()


def starlette_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/whoami", whoami),
            Route("/health", health),
            Route("/health/live", health),
            Route("/healthz", health),
            WebSocketRoute("/ws", echo),
        ]
    )


def client(verifier: TokenVerifier, **options: Any) -> TestClient:
    return TestClient(AccessTokenMiddleware(starlette_app(), verifier, **options))


def test_valid_token_reaches_the_app_in_request_state(
    verifier: TokenVerifier, tokens: Tokens
) -> None:
    response = client(verifier).get("/whoami", headers=bearer(tokens.reader))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}


def test_lowercase_scheme_is_accepted(verifier: TokenVerifier, tokens: Tokens) -> None:
    response = client(verifier).get("/whoami", headers={"Authorization": f"bearer {tokens.reader}"})
    assert response.status_code == 200


def test_no_token_is_401_without_error_code(verifier: TokenVerifier) -> None:
    body = assert_refused(client(verifier).get("/whoami"), 401, None)
    assert body["error_description"]


def test_realm_is_in_the_challenge(verifier: TokenVerifier) -> None:
    response = client(verifier, realm="orders").get("/whoami")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize("value", ["Bearer", "Bearer  abc", "Bearer a b", "Bearer a=b"])
def test_malformed_header_is_400(verifier: TokenVerifier, value: str) -> None:
    response = client(verifier).get("/whoami", headers={"Authorization": value})
    assert_refused(response, 400, "invalid_request")


def test_header_sent_twice_is_400(verifier: TokenVerifier, tokens: Tokens) -> None:
    headers = [("Authorization", f"Bearer {tokens.reader}")] * 2
    assert_refused(client(verifier).get("/whoami", headers=headers), 400, "invalid_request")


def test_token_in_header_and_query_is_400(verifier: TokenVerifier, tokens: Tokens) -> None:
    response = client(verifier).get(
        "/whoami", params={"access_token": tokens.reader}, headers=bearer(tokens.reader)
    )
    assert_refused(response, 400, "invalid_request")


@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_401(verifier: TokenVerifier, tokens: Tokens, name: str) -> None:
    response = client(verifier).get("/whoami", headers=bearer(getattr(tokens, name)))
    body = assert_refused(response, 401, "invalid_token")
    assert getattr(tokens, name) not in response.text
    assert "alice" not in str(body)


def test_missing_scope_is_403_naming_it(verifier: TokenVerifier, tokens: Tokens) -> None:
    response = client(verifier, scopes=("orders:write",)).get(
        "/whoami", headers=bearer(tokens.reader)
    )
    assert_refused(response, 403, "insufficient_scope")
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


def test_roles(verifier: TokenVerifier, tokens: Tokens) -> None:
    guarded = client(verifier, roles=("admin",))
    assert_refused(guarded.get("/whoami", headers=bearer(tokens.reader)), 403, "insufficient_scope")
    assert guarded.get("/whoami", headers=bearer(tokens.admin)).status_code == 200


def test_key_source_down_is_503_with_retry_after(
    down_verifier: TokenVerifier, tokens: Tokens
) -> None:
    assert_unavailable(client(down_verifier).get("/whoami", headers=bearer(tokens.reader)))


@pytest.mark.parametrize("path", ["/health", "/health/live"])
def test_excluded_paths_and_below_pass_without_token(verifier: TokenVerifier, path: str) -> None:
    response = client(verifier, exclude=("/health",)).get(path)
    assert response.status_code == 200
    assert response.text == "ok"


def test_exclude_is_not_a_string_prefix(verifier: TokenVerifier) -> None:
    response = client(verifier, exclude=("/health",)).get("/healthz")
    assert_refused(response, 401, None)


def test_exclude_ignores_a_trailing_slash_and_matches_no_other_path(
    verifier: TokenVerifier,
) -> None:
    excluded = client(verifier, exclude=("/metrics", "/health/"))
    assert excluded.get("/health").status_code == 200
    assert excluded.get("/health/live").status_code == 200
    assert_refused(excluded.get("/healthz"), 401, None)
    assert_refused(excluded.get("/whoami"), 401, None)


def test_optional_lets_anonymous_requests_through(verifier: TokenVerifier, tokens: Tokens) -> None:
    optional = client(verifier, optional=True)
    assert optional.get("/whoami").json() == {"sub": None}
    assert optional.get("/whoami", headers=bearer(tokens.reader)).json() == {"sub": "alice"}
    assert_refused(optional.get("/whoami", headers=bearer(tokens.expired)), 401, "invalid_token")


def test_lifespan_and_other_scopes_pass_through(verifier: TokenVerifier) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    with TestClient(AccessTokenMiddleware(app, verifier)):
        pass
    assert seen == ["lifespan"]


@pytest.mark.anyio
async def test_unknown_scope_type_passes_through(verifier: TokenVerifier) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        raise AssertionError("not called")

    async def send(message: Message) -> None:
        raise AssertionError("not called")

    scope: Scope = {"type": "custom.protocol"}
    await AccessTokenMiddleware(app, verifier)(scope, receive, send)
    assert seen == [scope]


def test_websocket_with_valid_token_is_accepted(verifier: TokenVerifier, tokens: Tokens) -> None:
    with client(verifier).websocket_connect("/ws", headers=bearer(tokens.reader)) as websocket:
        assert websocket.receive_json() == {"sub": "alice"}


def test_websocket_is_refused_with_the_denial_response(verifier: TokenVerifier) -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client(verifier).websocket_connect("/ws"),
    ):
        pass
    assert refused.value.status_code == 401
    assert refused.value.headers["WWW-Authenticate"] == "Bearer"


def without_denial_extension(app: ASGIApp) -> ASGIApp:
    """Return `app` as served by a server that lacks the websocket denial response extension."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "extensions": {}}, receive, send)

    return served


def test_websocket_without_token_is_closed_with_1008(
    verifier: TokenVerifier, tokens: Tokens
) -> None:
    app = without_denial_extension(AccessTokenMiddleware(starlette_app(), verifier))
    with pytest.raises(WebSocketDisconnect) as refused, TestClient(app).websocket_connect("/ws"):
        pass
    assert refused.value.code == 1008
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        TestClient(app).websocket_connect("/ws", headers=bearer(tokens.expired)),
    ):
        pass
    assert refused.value.code == 1008
    assert refused.value.reason == "invalid_token"


def test_websocket_key_source_down_closes_with_1013(
    down_verifier: TokenVerifier, tokens: Tokens
) -> None:
    app = without_denial_extension(AccessTokenMiddleware(starlette_app(), down_verifier))
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        TestClient(app).websocket_connect("/ws", headers=bearer(tokens.reader)),
    ):
        pass
    assert refused.value.code == 1013


def test_exclude_must_not_be_a_bare_string(verifier: TokenVerifier) -> None:
    with pytest.raises(TypeError):
        AccessTokenMiddleware(starlette_app(), verifier, exclude="/health")


def test_real_uvicorn_server(verifier: TokenVerifier, tokens: Tokens) -> None:
    app = AccessTokenMiddleware(starlette_app(), verifier, exclude=("/health",))
    with serve_asgi(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/whoami", headers=bearer(tokens.reader)).json() == {"sub": "alice"}
        assert_refused(http.get("/whoami"), 401, None)
        assert_refused(http.get("/whoami", headers=bearer(tokens.tampered)), 401, "invalid_token")
        assert http.get("/health/live").status_code == 200
