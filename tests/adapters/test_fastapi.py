"""`BearerAuth` through FastAPI's test client, its OpenAPI schema and a real uvicorn server."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations, which
# name the local `auth`, at runtime.

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Security
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from accesstoken import AccessToken, AccessTokenError, TokenVerifier, Verifier
from accesstoken.fastapi import BearerAuth, install_error_handlers

from ._support import AsyncOnly, Tokens, assert_refused, assert_unavailable, bearer, serve_asgi


def make_app(verifier: Verifier, *, flat: bool = False) -> FastAPI:
    app = FastAPI()
    auth = BearerAuth(verifier, realm="orders")

    @app.get("/orders")
    def orders(token: Annotated[AccessToken, Depends(auth)]) -> dict[str, str | None]:
        return {"sub": token.subject}

    @app.post("/orders")
    async def create(
        token: Annotated[AccessToken, Security(auth, scopes=["orders:write"])],
    ) -> dict[str, str | None]:
        return {"sub": token.subject}

    @app.get("/read")
    def read(token: Annotated[AccessToken, Depends(auth.require("orders:read"))]) -> list[str]:
        return sorted(token.scopes)

    @app.get("/admin")
    def admin(_: Annotated[AccessToken, Depends(auth.require(roles=("admin",)))]) -> str:
        return "welcome"

    @app.get("/admin-in-endpoint")
    def admin_in_endpoint(token: Annotated[AccessToken, Depends(auth)]) -> str:
        token.require_roles("admin")
        return "welcome"

    @app.get("/write-in-endpoint")
    async def write_in_endpoint(token: Annotated[AccessToken, Depends(auth.optional)]) -> str:
        token.require_scopes("orders:write")
        return "written"

    @app.get("/me")
    def me(token: Annotated[AccessToken | None, Depends(auth.optional)]) -> dict[str, str | None]:
        return {"sub": token.subject if token else None}

    if flat:
        install_error_handlers(app, realm="orders")
    return app


@pytest.fixture(params=["nested", "flat"])
def style(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(verifier: TokenVerifier, style: str) -> TestClient:
    return TestClient(make_app(verifier, flat=style == "flat"))


def nested(style: str) -> bool:
    return style == "nested"


def test_depends_returns_the_token(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/orders", headers=bearer(tokens.reader))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}


def test_no_token_is_401_without_error_code(client: TestClient, style: str) -> None:
    response = client.get("/orders")
    assert response.status_code == 401
    body = response.json()["detail"] if nested(style) else response.json()
    assert "error" not in body
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize("value", ["Bearer", "Bearer  abc", "Bearer a b"])
def test_malformed_header_is_400(client: TestClient, style: str, value: str) -> None:
    response = client.get("/orders", headers={"Authorization": value})
    assert_refused(response, 400, "invalid_request", nested=nested(style))


def test_token_sent_twice_is_400(client: TestClient, style: str, tokens: Tokens) -> None:
    twice = [("Authorization", f"Bearer {tokens.reader}")] * 2
    assert_refused(
        client.get("/orders", headers=twice), 400, "invalid_request", nested=nested(style)
    )
    response = client.get(
        "/orders", headers=bearer(tokens.reader), params={"access_token": tokens.reader}
    )
    assert_refused(response, 400, "invalid_request", nested=nested(style))


@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_401(client: TestClient, style: str, tokens: Tokens, name: str) -> None:
    response = client.get("/orders", headers=bearer(getattr(tokens, name)))
    assert_refused(response, 401, "invalid_token", nested=nested(style))
    assert getattr(tokens, name) not in response.text


def test_security_scopes_are_demanded(client: TestClient, style: str, tokens: Tokens) -> None:
    response = client.post("/orders", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope", nested=nested(style))
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


def test_require_demands_its_scopes(client: TestClient, style: str, tokens: Tokens) -> None:
    assert client.get("/read", headers=bearer(tokens.reader)).json() == ["orders:read"]
    response = client.get("/read", headers=bearer(tokens.no_scope))
    assert_refused(response, 403, "insufficient_scope", nested=nested(style))
    assert 'scope="orders:read"' in response.headers["WWW-Authenticate"]


def test_require_roles(client: TestClient, style: str, tokens: Tokens) -> None:
    assert client.get("/admin", headers=bearer(tokens.admin)).json() == "welcome"
    response = client.get("/admin", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope", nested=nested(style))


def test_refusals_in_the_endpoint_are_403_without_setup(
    client: TestClient, style: str, tokens: Tokens
) -> None:
    assert client.get("/admin-in-endpoint", headers=bearer(tokens.admin)).json() == "welcome"
    response = client.get("/admin-in-endpoint", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope", nested=nested(style))
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="orders"')
    response = client.get("/write-in-endpoint", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope", nested=nested(style))
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


def test_an_app_handler_for_token_errors_is_kept(verifier: TokenVerifier, tokens: Tokens) -> None:
    app = make_app(verifier)

    @app.exception_handler(AccessTokenError)
    def teapot(_request: Request, _exc: AccessTokenError) -> PlainTextResponse:
        return PlainTextResponse("mine", 418)

    client = TestClient(app)
    for _ in range(2):
        response = client.get("/admin-in-endpoint", headers=bearer(tokens.reader))
        assert (response.status_code, response.text) == (418, "mine")


def test_setting_the_verifier_reaches_every_derived_dependency(
    down_verifier: TokenVerifier, verifier: TokenVerifier, tokens: Tokens
) -> None:
    app = FastAPI()
    auth = BearerAuth(down_verifier)
    optional, reader = auth.optional, auth.require("orders:read")

    @app.get("/me")
    def me(token: Annotated[AccessToken | None, Depends(optional)]) -> str | None:
        return token.subject if token else None

    @app.get("/read")
    def read(token: Annotated[AccessToken, Depends(reader)]) -> str | None:
        return token.subject

    client = TestClient(app)
    assert client.get("/me", headers=bearer(tokens.reader)).status_code == 503
    auth.verifier = verifier
    assert optional.verifier is reader.verifier is verifier
    assert client.get("/me", headers=bearer(tokens.reader)).json() == "alice"
    assert client.get("/read", headers=bearer(tokens.reader)).json() == "alice"
    assert_refused(
        client.get("/read", headers=bearer(tokens.no_scope)), 403, "insufficient_scope", nested=True
    )


def test_use_swaps_the_verifier_for_a_block(
    down_verifier: TokenVerifier, verifier: TokenVerifier, tokens: Tokens
) -> None:
    auth = BearerAuth(down_verifier)
    app = FastAPI()

    @app.get("/write")
    def write(
        token: Annotated[AccessToken, Security(auth.optional, scopes=["orders:write"])],
    ) -> str:
        return "written"

    client = TestClient(app)
    with auth.optional.use(verifier):
        assert auth.verifier is verifier
        response = client.get("/write", headers=bearer(tokens.reader))
        assert_refused(response, 403, "insufficient_scope", nested=True)
    assert auth.verifier is down_verifier
    assert client.get("/write", headers=bearer(tokens.reader)).status_code == 503


def test_key_source_down_is_503(down_verifier: TokenVerifier, style: str, tokens: Tokens) -> None:
    client = TestClient(make_app(down_verifier, flat=style == "flat"))
    response = client.get("/orders", headers=bearer(tokens.reader))
    assert_unavailable(response, nested=nested(style))


def test_optional(client: TestClient, style: str, tokens: Tokens) -> None:
    assert client.get("/me").json() == {"sub": None}
    assert client.get("/me", headers=bearer(tokens.reader)).json() == {"sub": "alice"}
    response = client.get("/me", headers=bearer(tokens.tampered))
    assert_refused(response, 401, "invalid_token", nested=nested(style))


def test_plain_app_answers_with_detail(verifier: TokenVerifier, tokens: Tokens) -> None:
    response = TestClient(make_app(verifier)).get("/orders", headers=bearer(tokens.expired))
    assert set(response.json()) == {"detail"}


def test_openapi_has_one_http_bearer_scheme(verifier: TokenVerifier) -> None:
    schema = TestClient(make_app(verifier)).get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    for path, method in [("/orders", "get"), ("/orders", "post"), ("/me", "get"), ("/read", "get")]:
        security = schema["paths"][path][method]["security"]
        assert security[0].keys() == {"BearerAuth"}


def test_optional_and_require_are_reused_dependencies(verifier: TokenVerifier) -> None:
    auth = BearerAuth(verifier)
    assert auth.optional is auth.optional
    assert auth.optional.is_optional
    assert not auth.is_optional
    assert auth.require("a").require("b").scopes == ("a", "b")


def test_sync_and_async_endpoints_use_verify_async(verifier: TokenVerifier, tokens: Tokens) -> None:
    async_only = AsyncOnly(verifier)
    client = TestClient(make_app(async_only))
    assert client.get("/orders", headers=bearer(tokens.reader)).status_code == 200
    assert client.get("/me", headers=bearer(tokens.reader)).status_code == 200
    assert async_only.calls == 2


def test_real_uvicorn_server(verifier: TokenVerifier, tokens: Tokens) -> None:
    with serve_asgi(make_app(verifier, flat=True)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/orders", headers=bearer(tokens.reader)).json() == {"sub": "alice"}
        assert_refused(http.get("/orders", headers=bearer(tokens.expired)), 401, "invalid_token")
        response = http.post("/orders", headers=bearer(tokens.reader))
        assert_refused(response, 403, "insufficient_scope")
