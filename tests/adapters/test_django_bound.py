"""`accesstoken.django`: DPoP-bound tokens, step-up and RFC 9728 metadata (WSGI and ASGI)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from accesstoken import TokenVerifier
from accesstoken.django import require_token

from . import _bound, _django
from ._bound import (
    BASE,
    ISSUER,
    RESOURCE,
    bound_token,
    dpop_headers,
    dpop_verifier,
)

HERE = __name__
MIDDLEWARE = ["accesstoken.django.AccessTokenMiddleware"]
plain_verifier: TokenVerifier = ISSUER.verifier()
bound_verifier: TokenVerifier = dpop_verifier()


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.access_token.subject})  # type: ignore[attr-defined]


async def async_whoami(request: HttpRequest) -> JsonResponse:
    return whoami(request)


urlpatterns = [
    path("whoami", require_token()(whoami)),
    path("async/whoami", require_token()(async_whoami)),
    path("write", require_token("orders:write")(whoami)),
    path("async/write", require_token("orders:write")(async_whoami)),
    path("mfa", require_token(acr_values="urn:mfa")(whoami)),
    path("async/mfa", require_token(acr_values="urn:mfa")(async_whoami)),
]

Get = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def get(request: pytest.FixtureRequest) -> Iterator[Get]:
    """GET `url` through the WSGI handler (sync views) or the ASGI one (async views)."""

    def run(url: str, verifier: str = "plain_verifier", dpop: str | None = None, **kw: Any) -> Any:
        if request.param == "async" and not url.startswith("/.well-known"):
            url = f"/async{url}"
        if dpop is not None:  # a DPoP-bound token, with a proof for the URL the view is at
            kw["headers"] = dpop_headers(dpop, url=f"{BASE}{url}")
        with _django.configured(HERE, f"{HERE}.{verifier}"):
            if request.param == "sync":
                return Client().get(url, **kw)
            return asyncio.run(AsyncClient().get(url, **kw))

    return run


def test_a_dpop_bound_token_with_its_proof_is_accepted(get: Get) -> None:
    response = get("/whoami", "bound_verifier", dpop=bound_token())
    assert response.status_code == 200, response.content


def test_a_dpop_bound_token_sent_as_bearer_or_without_proof_is_refused(get: Get) -> None:
    _bound.check_unproven_bound_token_is_refused(lambda url, **kw: get(url, "bound_verifier", **kw))


def test_the_middleware_serves_the_metadata_document(get: Get) -> None:
    with override_settings(MIDDLEWARE=MIDDLEWARE, ACCESSTOKEN_RESOURCE=RESOURCE):
        document = get(RESOURCE.metadata_path)
        assert document.status_code == 200
        assert document.json() == RESOURCE.metadata()
        _bound.check_challenges_name_the_metadata(get)


def test_acr_values_refused_is_insufficient_user_authentication(get: Get) -> None:
    token = ISSUER.issue(acr="urn:password")
    response = get("/mfa", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "insufficient_user_authentication"
    accepted = ISSUER.issue(acr="urn:mfa")
    assert get("/mfa", headers={"Authorization": f"Bearer {accepted}"}).status_code == 200


def test_the_public_url_setting_is_read_again_when_it_changes() -> None:
    """Settings are read once per process, and again after `override_settings`."""
    public = "https://api.example.com"
    token = bound_token()
    with _django.configured(HERE, f"{HERE}.bound_verifier"):
        # The proof names the public URL; the view is addressed at testserver.
        assert (
            Client().get("/whoami", headers=dpop_headers(token, url=f"{public}/whoami")).status_code
            == 401
        )
        with override_settings(ACCESSTOKEN_PUBLIC_URL=public):
            headers = dpop_headers(token, url=f"{public}/whoami")
            assert Client().get("/whoami", headers=headers).status_code == 200
            refused = Client().get("/whoami", headers=dpop_headers(token))
            assert refused.status_code == 401
        assert Client().get("/whoami", headers=dpop_headers(token)).status_code == 200
