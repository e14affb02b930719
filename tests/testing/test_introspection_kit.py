"""`LocalIssuer`'s opaque tokens and its served RFC 7662 introspection endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from accesstoken import IntrospectionVerifier, TokenInactive
from accesstoken.testing import LocalIssuer

CLIENT = ("resource-server", "its-secret")


@pytest.fixture
def served() -> Iterator[tuple[LocalIssuer, str]]:
    issuer = LocalIssuer("ES256")
    issuer.add_client(*CLIENT)
    with issuer.serve() as url:
        yield issuer, url


def introspect(url: str, token: str, **options: object) -> httpx.Response:
    options.setdefault("auth", CLIENT)
    return httpx.post(f"{url}/introspect", data={"token": token}, **options)  # type: ignore[arg-type]


def test_discovery_names_the_introspection_endpoint(served: tuple[LocalIssuer, str]) -> None:
    _, url = served
    metadata = httpx.get(f"{url}/.well-known/openid-configuration").json()
    assert metadata["introspection_endpoint"] == f"{url}/introspect"
    assert "client_secret_basic" in metadata["introspection_endpoint_auth_methods_supported"]


def test_an_opaque_token_is_random_and_says_nothing_itself() -> None:
    issuer = LocalIssuer()
    first, second = issuer.issue_opaque(), issuer.issue_opaque()
    assert first != second
    assert "." not in first
    assert len(first) >= 32


def test_an_active_token_is_described(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    token = issuer.issue_opaque("alice", ["a", "b"], expires_in=120, client_id="web")
    response = introspect(url, token)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["iss"] == url
    assert body["sub"] == "alice"
    assert body["aud"] == "api"
    assert body["scope"] == "a b"
    assert body["client_id"] == "web"
    assert body["token_type"] == "Bearer"
    assert 110 <= body["exp"] - time.time() <= 121


def test_unknown_expired_and_revoked_tokens_are_inactive(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    revoked = issuer.issue_opaque()
    issuer.revoke_opaque(revoked)
    for token in ("never-issued", issuer.issue_opaque(expires_in=-1), revoked):
        assert introspect(url, token).json() == {"active": False}
    with pytest.raises(KeyError):
        issuer.revoke_opaque("never-issued")


def test_the_endpoint_authenticates_its_clients(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    token = issuer.issue_opaque()
    refused = introspect(url, token, auth=None)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert "active" not in refused.json()
    assert introspect(url, token, auth=(CLIENT[0], "wrong")).status_code == 401
    by_form = httpx.post(
        f"{url}/introspect",
        data={"token": token, "client_id": CLIENT[0], "client_secret": CLIENT[1]},
    )
    assert by_form.json()["active"] is True


def test_a_request_without_token_or_with_two_is_400(served: tuple[LocalIssuer, str]) -> None:
    _, url = served
    missing = httpx.post(f"{url}/introspect", data={"token_type_hint": "x"}, auth=CLIENT)
    assert missing.status_code == 400
    twice = httpx.post(
        f"{url}/introspect",
        content=b"token=a&token=b",
        auth=CLIENT,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400
    assert httpx.get(f"{url}/introspect").status_code == 405


def test_requests_are_counted_and_an_outage_answers_503(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    token = issuer.issue_opaque()
    introspect(url, token)
    with issuer.outage():
        assert introspect(url, token).status_code == 503
    assert issuer.requests["/introspect"] == 2


def test_introspection_verifier_is_wired_to_the_served_endpoint(
    served: tuple[LocalIssuer, str],
) -> None:
    issuer, _ = served
    verifier = issuer.introspection_verifier(*CLIENT)
    assert isinstance(verifier, IntrospectionVerifier)
    assert verifier.verify(issuer.issue_opaque("bob")).subject == "bob"
    with pytest.raises(TokenInactive):
        verifier.verify(issuer.issue_opaque(expires_in=-1))


def test_introspection_verifier_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError):
        LocalIssuer().introspection_verifier(*CLIENT)


def test_introspect_answers_without_a_server() -> None:
    issuer = LocalIssuer(issuer="https://issuer.test/")
    token = issuer.issue_opaque("carol", "x y", iss=None)
    assert issuer.introspect(token)["sub"] == "carol"
    assert "iss" not in issuer.introspect(token)
    assert issuer.introspect(issuer.issue_opaque())["iss"] == "https://issuer.test/"
