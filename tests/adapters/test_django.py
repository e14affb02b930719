"""`accesstoken.django` through Django's test clients: WSGI (`Client`) and ASGI (`AsyncClient`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from accesstoken import AccessToken
from accesstoken.django import get_verifier, require_token

from . import _django
from ._support import Tokens, assert_refused, assert_unavailable

HERE = __name__
MIDDLEWARE = ["accesstoken.django.AccessTokenMiddleware"]


def whoami(request: HttpRequest) -> JsonResponse:
    token: AccessToken | None = request.access_token  # type: ignore[attr-defined]
    return JsonResponse({"sub": token.subject if token else None})


async def async_whoami(request: HttpRequest) -> JsonResponse:
    return whoami(request)


urlpatterns = [
    path("plain", whoami),
    path("async/plain", async_whoami),
    path("whoami", require_token()(whoami)),
    path("async/whoami", require_token()(async_whoami)),
    path("write", require_token("orders:write")(whoami)),
    path("async/write", require_token("orders:write")(async_whoami)),
    path("admin", require_token(roles=("admin",))(whoami)),
    path("async/admin", require_token(roles=("admin",))(async_whoami)),
]

Get = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def get(request: pytest.FixtureRequest) -> Iterator[Get]:
    """GET through the WSGI handler with sync views, or the ASGI one with async views."""
    with _django.configured(HERE):
        if request.param == "sync":
            yield lambda url, **kw: Client().get(url, **kw)
        else:
            yield lambda url, **kw: asyncio.run(AsyncClient().get(f"/async{url}", **kw))


def auth(token: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {token}"}}


def test_valid_token_reaches_the_view(get: Get, tokens: Tokens) -> None:
    response = get("/whoami", **auth(tokens.reader))
    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}


def test_no_token_is_401_without_error_code(get: Get) -> None:
    body = assert_refused(get("/whoami"), 401, None)
    assert body["error_description"]


@pytest.mark.parametrize("value", ["Bearer", "Bearer  abc", "Bearer a b", "Bearer a=b"])
def test_malformed_header_is_400(get: Get, value: str) -> None:
    response = get("/whoami", headers={"Authorization": value})
    assert_refused(response, 400, "invalid_request")


def test_token_in_the_query_string_is_400(get: Get, tokens: Tokens) -> None:
    response = get(f"/whoami?access_token={tokens.reader}", **auth(tokens.reader))
    assert_refused(response, 400, "invalid_request")


@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_401(get: Get, tokens: Tokens, name: str) -> None:
    response = get("/whoami", **auth(getattr(tokens, name)))
    assert_refused(response, 401, "invalid_token")
    assert getattr(tokens, name) not in response.content.decode()


def test_missing_scope_is_403_naming_it(get: Get, tokens: Tokens) -> None:
    response = get("/write", **auth(tokens.reader))
    assert_refused(response, 403, "insufficient_scope")
    assert 'scope="orders:write"' in response.headers["WWW-Authenticate"]


def test_roles(get: Get, tokens: Tokens) -> None:
    assert_refused(get("/admin", **auth(tokens.reader)), 403, "insufficient_scope")
    assert get("/admin", **auth(tokens.admin)).status_code == 200


def test_key_source_down_is_503_with_retry_after(get: Get, tokens: Tokens) -> None:
    with override_settings(ACCESSTOKEN_VERIFIER=f"{_django.__name__}.down_verifier"):
        assert_unavailable(get("/whoami", **auth(tokens.reader)))


@pytest.fixture
def middleware(get: Get) -> Iterator[Get]:
    with override_settings(MIDDLEWARE=MIDDLEWARE):
        yield get


def test_middleware_sets_the_token_or_none(middleware: Get, tokens: Tokens) -> None:
    assert middleware("/plain", **auth(tokens.reader)).json() == {"sub": "alice"}
    assert middleware("/plain").json() == {"sub": None}


def test_middleware_refuses_a_present_but_invalid_token(middleware: Get, tokens: Tokens) -> None:
    assert_refused(middleware("/plain", **auth(tokens.expired)), 401, "invalid_token")
    assert_refused(
        middleware("/plain", headers={"Authorization": "Bearer a b"}), 400, "invalid_request"
    )


def test_middleware_answers_503_when_keys_are_down(middleware: Get, tokens: Tokens) -> None:
    with override_settings(ACCESSTOKEN_VERIFIER=f"{_django.__name__}.down_verifier"):
        assert_unavailable(middleware("/plain", **auth(tokens.reader)))


def test_async_views_never_call_the_blocking_verify(tokens: Tokens) -> None:
    with _django.configured(HERE, f"{HERE}.async_only"), override_settings(MIDDLEWARE=MIDDLEWARE):
        response = asyncio.run(AsyncClient().get("/async/whoami", **auth(tokens.reader)))
    assert response.status_code == 200
    assert async_only.calls == 2  # the middleware, then the decorator


class _AsyncOnly:
    def __init__(self) -> None:
        self.calls = 0

    def verify(self, raw: str | bytes, scopes: Any = ()) -> AccessToken:
        raise AssertionError("verify() blocks the event loop; verify_async() was expected")

    async def verify_async(self, raw: str | bytes, scopes: Any = ()) -> AccessToken:
        self.calls += 1
        return await _django.verifier.verify_async(raw, scopes)


async_only = _AsyncOnly()
calls: list[int] = []


def counted_factory() -> Any:
    calls.append(1)
    return _django.verifier


def test_a_factory_is_called_once_on_first_use(tokens: Tokens) -> None:
    with _django.configured(HERE, f"{HERE}.counted_factory"):
        assert calls == []
        for _ in range(3):
            assert Client().get("/whoami", **auth(tokens.reader)).status_code == 200
        assert get_verifier() is _django.verifier
    assert calls == [1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "must be the dotted path"),
        ("nowhere.verifier", "cannot import"),
        (f"{_django.__name__}.SECRET", "is not a Verifier"),
        ("tests.adapters._support.UnreachableKeys", "is not a Verifier"),
    ],
)
def test_a_wrong_setting_is_improperly_configured(value: str | None, message: str) -> None:
    with (
        override_settings(ACCESSTOKEN_VERIFIER=value),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        get_verifier()
    assert message in str(raised.value)
