"""`BearerAuthentication` and `HasScopes` through Django REST framework's `APIClient`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accesstoken import AccessToken, TokenUser
from accesstoken.django import BearerAuthentication, HasScopes

from . import _django
from ._bound import BASE, ISSUER, bound_token, dpop_headers, dpop_verifier
from ._support import Tokens

bound_verifier = dpop_verifier()


class WhoAmI(APIView):
    authentication_classes = (BearerAuthentication,)
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, TokenUser)
        assert isinstance(request.auth, AccessToken)
        return Response({"sub": user.identity, "pk": user.pk, "scopes": sorted(user.scopes)})


class Anyone(APIView):
    authentication_classes = (BearerAuthentication,)

    def get(self, request: Request) -> Response:
        return Response({"user": str(request.user)})


class Orders(WhoAmI):
    permission_classes = (HasScopes,)
    required_scopes = ("orders:write",)


class Admin(WhoAmI):
    permission_classes = (HasScopes,)
    required_roles = ("admin",)


urlpatterns = [
    path("whoami", WhoAmI.as_view()),
    path("anyone", Anyone.as_view()),
    path("orders", Orders.as_view()),
    path("admin", Admin.as_view()),
]


@pytest.fixture
def client() -> Iterator[APIClient]:
    with _django.configured(__name__):
        yield APIClient()


def refused(response: Response, status: int, error: str | None) -> str:
    """Check DRF's body and our status and challenge; return the challenge."""
    assert response.status_code == status
    assert response.json()["detail"]
    challenge: str = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert (error is None) == ("error=" not in challenge)
    if error is not None:
        assert f'error="{error}"' in challenge
    return challenge


def test_valid_token_gives_a_token_user(client: APIClient, tokens: Tokens) -> None:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.reader}")
    assert client.get("/whoami").json() == {
        "sub": "alice",
        "pk": "alice",
        "scopes": ["orders:read"],
    }


def test_no_header_is_drf_anonymous(client: APIClient) -> None:
    assert client.get("/anyone").json() == {"user": "AnonymousUser"}
    assert refused(client.get("/whoami"), 401, None) == "Bearer"


@pytest.mark.parametrize("value", ["Bearer", "Bearer  abc", "Bearer a b", "Bearer a=b"])
def test_malformed_header_is_400(client: APIClient, value: str) -> None:
    client.credentials(HTTP_AUTHORIZATION=value)
    refused(client.get("/whoami"), 400, "invalid_request")


@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_401_with_the_description(
    client: APIClient, tokens: Tokens, name: str
) -> None:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {getattr(tokens, name)}")
    response = client.get("/anyone")  # refused even where anonymous requests pass
    refused(response, 401, "invalid_token")
    assert response.json()["detail"].startswith("The access token")


def test_missing_scope_is_403_naming_it(client: APIClient, tokens: Tokens) -> None:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.reader}")
    challenge = refused(client.get("/orders"), 403, "insufficient_scope")
    assert 'scope="orders:write"' in challenge


def test_has_scopes_refuses_anonymous_requests_with_401(client: APIClient) -> None:
    refused(client.get("/orders"), 401, None)


def test_roles(client: APIClient, tokens: Tokens) -> None:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.reader}")
    refused(client.get("/admin"), 403, "insufficient_scope")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.admin}")
    assert client.get("/admin").status_code == 200


def test_key_source_down_is_503_with_retry_after(client: APIClient, tokens: Tokens) -> None:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.reader}")
    with override_settings(ACCESSTOKEN_VERIFIER=f"{_django.__name__}.down_verifier"):
        response = client.get("/whoami")
    assert response.status_code == 503
    assert response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in response.headers


def test_a_dpop_bound_token_needs_its_proof_under_drf() -> None:
    token = bound_token()
    with _django.configured(__name__, f"{__name__}.bound_verifier"):
        client = APIClient()
        accepted = client.get("/whoami", headers=dpop_headers(token, url=f"{BASE}/whoami"))
        assert accepted.status_code == 200, accepted.content
        assert accepted.json()["sub"] == "user"
        stolen = client.get("/whoami", headers={"Authorization": f"DPoP {token}"})
        assert stolen.status_code == 401
        assert stolen.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')
        as_bearer = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401
        plain = client.get("/whoami", headers={"Authorization": f"Bearer {ISSUER.issue()}"})
        assert plain.status_code == 200
