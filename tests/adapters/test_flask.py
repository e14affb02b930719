"""`FlaskAuth` through Flask's test client, an application factory, and werkzeug's server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from accesstoken import TokenVerifier, Verifier
from accesstoken.flask import FlaskAuth, current_token, get_current_token

from ._support import AsyncOnly, Tokens, assert_refused, assert_unavailable, bearer, serve_wsgi


def add_views(app: Flask, auth: FlaskAuth) -> None:
    @app.get("/orders")
    @auth.require("orders:read")
    def orders() -> dict[str, Any]:
        return {"sub": current_token.subject}

    @app.get("/async-orders")
    @auth.require("orders:read")
    async def async_orders() -> dict[str, Any]:
        return {"sub": current_token.subject}

    @app.post("/orders")
    @auth.require("orders:write")
    def create() -> dict[str, Any]:
        return {"sub": current_token.subject}

    @app.get("/any")
    @auth.require()
    def any_token() -> dict[str, Any]:
        return {"scopes": sorted(current_token.scopes)}

    @app.get("/admin")
    @auth.require(roles=("admin",))
    def admin() -> str:
        return "welcome"

    @app.get("/admin-in-view")
    @auth.require()
    def admin_in_view() -> str:
        current_token.require_roles("admin")
        return "welcome"

    @app.get("/write-in-view")
    @auth.require()
    async def write_in_view() -> str:
        current_token.require_scopes("orders:write")
        return "written"

    @app.get("/me")
    @auth.require(optional=True)
    def me() -> dict[str, Any]:
        token = get_current_token()
        return {"sub": token.subject if token else None}

    @app.get("/unguarded")
    def unguarded() -> str:
        get_current_token()
        return "unreachable"


def create_app(verifier: Verifier) -> Flask:
    """An application factory: the extension is made once, bound to each app later."""
    app = Flask(__name__)
    auth.init_app(app, verifier)
    add_views(app, auth)
    return app


auth = FlaskAuth(realm="orders")


@pytest.fixture(params=["factory", "direct"])
def client(request: pytest.FixtureRequest, verifier: TokenVerifier) -> FlaskClient:
    if request.param == "factory":
        return create_app(verifier).test_client()
    app = Flask(__name__)
    add_views(app, FlaskAuth(verifier, realm="orders"))
    return app.test_client()


@pytest.mark.parametrize("path", ["/orders", "/async-orders"])
def test_valid_token(client: FlaskClient, tokens: Tokens, path: str) -> None:
    response = client.get(path, headers=bearer(tokens.reader))
    assert response.status_code == 200
    assert response.json == {"sub": "alice"}


def test_any_valid_token(client: FlaskClient, tokens: Tokens) -> None:
    assert client.get("/any", headers=bearer(tokens.no_scope)).json == {"scopes": []}


@pytest.mark.parametrize("path", ["/orders", "/async-orders"])
def test_no_token_is_401_without_error_code(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert "error" not in response.json
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize("value", ["Bearer", "Bearer  abc", "Bearer a b"])
def test_malformed_header_is_400(client: FlaskClient, value: str) -> None:
    assert_refused(client.get("/orders", headers={"Authorization": value}), 400, "invalid_request")


def test_token_sent_twice_is_400(client: FlaskClient, tokens: Tokens) -> None:
    twice = [("Authorization", f"Bearer {tokens.reader}")] * 2
    assert_refused(client.get("/orders", headers=twice), 400, "invalid_request")
    response = client.get(
        "/orders", headers=bearer(tokens.reader), query_string={"access_token": tokens.reader}
    )
    assert_refused(response, 400, "invalid_request")


@pytest.mark.parametrize("path", ["/orders", "/async-orders"])
@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_401(client: FlaskClient, tokens: Tokens, name: str, path: str) -> None:
    response = client.get(path, headers=bearer(getattr(tokens, name)))
    assert_refused(response, 401, "invalid_token")
    assert getattr(tokens, name) not in response.text


def test_missing_scope_is_403(client: FlaskClient, tokens: Tokens) -> None:
    response = client.post("/orders", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope")
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


def test_roles(client: FlaskClient, tokens: Tokens) -> None:
    assert client.get("/admin", headers=bearer(tokens.admin)).text == "welcome"
    assert_refused(client.get("/admin", headers=bearer(tokens.reader)), 403, "insufficient_scope")


def test_refusals_in_the_view_are_403_with_or_without_init_app(
    client: FlaskClient, tokens: Tokens
) -> None:
    assert client.get("/admin-in-view", headers=bearer(tokens.admin)).text == "welcome"
    response = client.get("/admin-in-view", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="orders"')
    response = client.get("/write-in-view", headers=bearer(tokens.reader))
    assert_refused(response, 403, "insufficient_scope")
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


def test_use_swaps_the_verifier_of_every_app_for_a_block(
    verifier: TokenVerifier, down_verifier: TokenVerifier, tokens: Tokens
) -> None:
    client = create_app(down_verifier).test_client()
    with auth.use(verifier):
        assert client.get("/orders", headers=bearer(tokens.reader)).json == {"sub": "alice"}
        response = client.post("/orders", headers=bearer(tokens.reader))
        assert_refused(response, 403, "insufficient_scope")
        assert client.get("/admin", headers=bearer(tokens.reader)).status_code == 403
    assert client.get("/orders", headers=bearer(tokens.reader)).status_code == 503


@pytest.mark.parametrize("path", ["/orders", "/async-orders"])
def test_key_source_down_is_503(down_verifier: TokenVerifier, tokens: Tokens, path: str) -> None:
    response = create_app(down_verifier).test_client().get(path, headers=bearer(tokens.reader))
    assert_unavailable(response)


def test_optional(client: FlaskClient, tokens: Tokens) -> None:
    assert client.get("/me").json == {"sub": None}
    assert client.get("/me", headers=bearer(tokens.reader)).json == {"sub": "alice"}
    assert_refused(client.get("/me", headers=bearer(tokens.expired)), 401, "invalid_token")


def test_current_token_outside_a_guarded_view_is_an_error(verifier: TokenVerifier) -> None:
    client = create_app(verifier).test_client()
    assert client.get("/unguarded").status_code == 500


def test_each_app_of_a_factory_has_its_own_verifier(
    verifier: TokenVerifier, down_verifier: TokenVerifier, tokens: Tokens
) -> None:
    working, failing = create_app(verifier), create_app(down_verifier)
    assert working.test_client().get("/orders", headers=bearer(tokens.reader)).status_code == 200
    assert failing.test_client().get("/orders", headers=bearer(tokens.reader)).status_code == 503


def test_async_views_use_verify_async(verifier: TokenVerifier, tokens: Tokens) -> None:
    async_only = AsyncOnly(verifier)
    client = create_app(async_only).test_client()
    assert client.get("/async-orders", headers=bearer(tokens.reader)).status_code == 200
    assert async_only.calls == 1


def test_init_app_needs_a_verifier() -> None:
    with pytest.raises(ValueError, match="verifier"):
        FlaskAuth().init_app(Flask(__name__))


def test_real_werkzeug_server(verifier: TokenVerifier, tokens: Tokens) -> None:
    with serve_wsgi(create_app(verifier)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/orders", headers=bearer(tokens.reader)).json() == {"sub": "alice"}
        assert http.get("/async-orders", headers=bearer(tokens.reader)).json() == {"sub": "alice"}
        assert_refused(http.get("/orders"), 401, None)
        assert_refused(http.get("/orders", headers=bearer(tokens.tampered)), 401, "invalid_token")
        twice = [("Authorization", f"Bearer {tokens.reader}")] * 2
        assert_refused(http.get("/orders", headers=twice), 400, "invalid_request")


@pytest.mark.parametrize("path", ["/orders", "/async-orders", "/me"])
def test_a_view_of_an_app_without_a_verifier_fails_loudly(path: str, tokens: Tokens) -> None:
    app = Flask(__name__)
    add_views(app, FlaskAuth())  # neither FlaskAuth(verifier) nor init_app(app, verifier)
    client = app.test_client()
    assert client.get(path).status_code == 500  # not a 401 that hides the mistake
    assert client.get(path, headers=bearer(tokens.reader)).status_code == 500
