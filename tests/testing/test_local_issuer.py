"""LocalIssuer: tokens our verifier accepts, and a real local identity provider over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import accesstoken
from accesstoken import HMACSecret, StaticKeys
from accesstoken.testing import LocalIssuer

ALGORITHMS = [
    *(f"{family}{bits}" for family in ("RS", "PS", "ES", "HS") for bits in (256, 384, 512)),
    "EdDSA",
]


def unverified(raw: str, segment: int) -> dict[str, Any]:
    """Return the JSON of the header (0) or payload (1), read without any check."""
    part = raw.split(".")[segment]
    document: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return document


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_issues_tokens_its_own_verifier_accepts(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm)
    raw = issuer.issue(scopes=["orders:read"])

    token = issuer.verifier().verify(raw)

    assert token.header["alg"] == algorithm
    assert token.header["kid"] == issuer.kid
    assert token.scopes == {"orders:read"}
    with pytest.raises(accesstoken.InvalidToken):
        LocalIssuer(algorithm).verifier().verify(raw)


def test_a_token_naming_another_issuers_kid_fails_its_signature_check(
    token_issuer: LocalIssuer,
) -> None:
    other = LocalIssuer()
    raw = token_issuer.issue(headers={"kid": other.kid})

    with pytest.raises(accesstoken.InvalidSignature):
        other.verifier().verify(raw)


def test_default_claims_and_header(token_issuer: LocalIssuer) -> None:
    raw = token_issuer.issue()
    header, claims = unverified(raw, 0), unverified(raw, 1)

    assert header == {"alg": "RS256", "kid": token_issuer.kid, "typ": "JWT"}
    assert claims.keys() == {"iss", "aud", "sub", "iat", "exp", "jti"}
    assert (claims["iss"], claims["aud"], claims["sub"]) == ("https://issuer.test/", "api", "user")
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"] != unverified(token_issuer.issue(), 1)["jti"]


def test_claims_are_added_replaced_and_removed(token_issuer: LocalIssuer) -> None:
    raw = token_issuer.issue("alice", exp=None, jti=None, roles=["admin"], iss="https://other/")

    claims = unverified(raw, 1)

    assert claims["sub"] == "alice"
    assert claims["roles"] == ["admin"]
    assert claims["iss"] == "https://other/"
    assert "exp" not in claims
    assert "jti" not in claims


def test_a_token_without_exp_needs_a_verifier_that_does_not_require_it(
    token_issuer: LocalIssuer,
) -> None:
    raw = token_issuer.issue(exp=None)

    with pytest.raises(accesstoken.MissingClaim):
        token_issuer.verifier().verify(raw)
    assert token_issuer.verifier(required_claims=()).verify(raw).expires_at is None


def test_subject_none_leaves_sub_out(token_issuer: LocalIssuer) -> None:
    assert "sub" not in unverified(token_issuer.issue(subject=None), 1)


def test_scopes_are_space_joined_and_a_string_is_taken_as_is(token_issuer: LocalIssuer) -> None:
    assert unverified(token_issuer.issue(scopes=("a", "b")), 1)["scope"] == "a b"
    assert unverified(token_issuer.issue(scopes="a b"), 1)["scope"] == "a b"


def test_headers_are_added_replaced_and_removed(token_issuer: LocalIssuer) -> None:
    raw = token_issuer.issue(headers={"typ": "at+jwt", "kid": None, "x-extra": 1})

    assert unverified(raw, 0) == {"alg": "RS256", "typ": "at+jwt", "x-extra": 1}
    assert token_issuer.verifier(token_type="at+jwt").verify(raw).header["typ"] == "at+jwt"
    with pytest.raises(accesstoken.InvalidTokenType):
        token_issuer.verifier(token_type="at+jwt").verify(token_issuer.issue())


def test_the_alg_header_can_pick_another_algorithm_of_the_same_key(
    token_issuer: LocalIssuer,
) -> None:
    raw = token_issuer.issue(headers={"alg": "PS256"})

    assert unverified(raw, 0)["alg"] == "PS256"
    # The published JWK says "alg": "RS256", which the verifier enforces.
    with pytest.raises(accesstoken.InvalidToken):
        token_issuer.verifier().verify(raw)


def test_removing_alg_is_refused(token_issuer: LocalIssuer) -> None:
    with pytest.raises(ValueError, match="alg"):
        token_issuer.issue(headers={"alg": None})


def test_an_expired_token_is_rejected(token_issuer: LocalIssuer) -> None:
    raw = token_issuer.issue(expires_in=-120)

    with pytest.raises(accesstoken.TokenExpired):
        token_issuer.verifier().verify(raw)


def test_audience_may_be_several_or_none() -> None:
    several = LocalIssuer(audience=["api", "admin"])
    no_audience = LocalIssuer(audience=None)

    assert several.verifier(audience="admin").verify(several.issue()).audience == ("api", "admin")
    assert "aud" not in unverified(no_audience.issue(), 1)
    assert no_audience.verifier().verify(no_audience.issue()).audience == ()


def test_rotate_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    token_issuer: LocalIssuer,
) -> None:
    old_kid = token_issuer.kid
    old = token_issuer.issue()

    new_kid = token_issuer.rotate()
    new = token_issuer.issue()

    assert new_kid == token_issuer.kid != old_kid
    assert unverified(new, 0)["kid"] == new_kid
    assert [key["kid"] for key in token_issuer.jwks["keys"]] == [old_kid, new_kid]
    verifier = token_issuer.verifier()
    assert verifier.verify(old).header["kid"] == old_kid
    assert verifier.verify(new).header["kid"] == new_kid


def test_rotate_without_keeping_previous_keys_retires_old_tokens(
    token_issuer: LocalIssuer,
) -> None:
    old = token_issuer.issue()

    token_issuer.rotate(keep_previous=False)

    assert len(token_issuer.jwks["keys"]) == 1
    with pytest.raises(accesstoken.UnknownKey):
        token_issuer.verifier().verify(old)


def test_jwks_publishes_public_keys_only(token_issuer: LocalIssuer) -> None:
    (jwk,) = token_issuer.jwks["keys"]

    assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["kid"]) == (
        "RSA",
        "sig",
        "RS256",
        token_issuer.kid,
    )
    assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()


def test_a_hmac_issuer_uses_a_secret_of_the_hash_size_as_its_key_source() -> None:
    issuer = LocalIssuer("HS384")

    assert len(issuer.secret) == 48
    assert isinstance(issuer.key_source(), HMACSecret)
    assert HMACSecret(issuer.secret).key_set().keys[0].algorithms >= {"HS384"}
    assert issuer.jwks["keys"][0]["kty"] == "oct"


def test_a_rotated_hmac_issuer_verifies_tokens_of_both_secrets() -> None:
    issuer = LocalIssuer("HS256")
    old = issuer.issue()
    issuer.rotate()

    verifier = issuer.verifier()

    assert not isinstance(issuer.key_source(), HMACSecret)
    assert verifier.verify(old).header["kid"] != verifier.verify(issuer.issue()).header["kid"]


def test_the_public_key_in_pem_verifies_tokens(token_issuer: LocalIssuer) -> None:
    verifier = token_issuer.verifier(keys=StaticKeys.from_pem(token_issuer.public_key_pem))

    assert verifier.verify(token_issuer.issue("bob")).subject == "bob"


def test_keys_of_the_wrong_kind_are_not_offered(token_issuer: LocalIssuer) -> None:
    with pytest.raises(AttributeError):
        _ = token_issuer.secret
    with pytest.raises(AttributeError):
        _ = LocalIssuer("HS256").public_key_pem


@pytest.mark.parametrize("algorithm", ["none", "ES256K", "rs256", ""])
def test_unsupported_algorithms_are_refused(algorithm: str) -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        LocalIssuer(algorithm)


# serve(): a real identity provider on 127.0.0.1


@pytest.fixture
def served(token_issuer: LocalIssuer) -> Iterator[tuple[LocalIssuer, str]]:
    """Yield (issuer, base URL) while the issuer serves, with one client registered."""
    token_issuer.add_client("billing", "s3cret", scopes=["orders:read", "orders:write"])
    with token_issuer.serve() as url:
        yield token_issuer, url


def token_request(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/token", **kwargs)


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_serve_publishes_discovery_metadata(served: tuple[LocalIssuer, str], path: str) -> None:
    issuer, url = served

    metadata = httpx.get(url + path).json()

    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith("/")
    assert issuer.issuer == metadata["issuer"] == url
    assert metadata["jwks_uri"] == f"{url}/jwks.json"
    assert metadata["token_endpoint"] == f"{url}/token"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert metadata["scopes_supported"] == ["orders:read", "orders:write"]


def test_served_tokens_carry_the_server_url_as_issuer(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served

    assert issuer.verifier().verify(issuer.issue()).issuer == url


def test_the_jwks_endpoint_follows_rotation_live(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    before = httpx.get(f"{url}/jwks.json").json()

    issuer.rotate()
    after = httpx.get(f"{url}/jwks.json").json()

    assert before == {"keys": issuer.jwks["keys"][:1]}
    assert after == issuer.jwks
    assert len(after["keys"]) == 2


@pytest.mark.parametrize("how", ["basic", "form"])
def test_the_token_endpoint_issues_tokens_to_an_authenticated_client(
    served: tuple[LocalIssuer, str], how: str
) -> None:
    issuer, url = served
    form = {"grant_type": "client_credentials", "scope": "orders:read"}
    if how == "basic":
        response = token_request(url, data=form, auth=("billing", "s3cret"))
    else:
        response = token_request(
            url, data={**form, "client_id": "billing", "client_secret": "s3cret"}
        )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer.keys() == {"access_token", "token_type", "expires_in", "scope"}
    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == (
        "Bearer",
        300,
        "orders:read",
    )
    token = issuer.verifier().verify(answer["access_token"])
    assert token.scopes == {"orders:read"}
    assert token.client_id == token.subject == "billing"


def test_a_client_asking_for_no_scope_gets_all_of_its_scopes(
    served: tuple[LocalIssuer, str],
) -> None:
    _, url = served

    form = {"grant_type": "client_credentials"}
    answer = token_request(url, data=form, auth=("billing", "s3cret")).json()

    assert answer["scope"] == "orders:read orders:write"


@pytest.mark.parametrize(
    ("auth", "client_id"),
    [(("billing", "wrong"), None), (None, "billing"), (("nobody", "s3cret"), None)],
)
def test_a_bad_client_is_refused_as_invalid_client(
    served: tuple[LocalIssuer, str], auth: tuple[str, str] | None, client_id: str | None
) -> None:
    _, url = served
    form = {"grant_type": "client_credentials"}
    if client_id is not None:
        form |= {"client_id": client_id, "client_secret": "wrong"}

    response = token_request(url, data=form, auth=auth)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("grant_type=password", "unsupported_grant_type"),
        ("scope=orders:read", "invalid_request"),
        ("grant_type=client_credentials&scope=admin", "invalid_scope"),
        ("grant_type=client_credentials&grant_type=client_credentials", "invalid_request"),
        ("grant_type=client_credentials&client_secret=s3cret", "invalid_request"),
    ],
)
def test_token_requests_are_checked_as_rfc_6749_says(
    served: tuple[LocalIssuer, str], body: str, error: str
) -> None:
    _, url = served
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    response = token_request(url, content=body, headers=headers, auth=("billing", "s3cret"))

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_unknown_paths_and_methods_are_refused(served: tuple[LocalIssuer, str]) -> None:
    _, url = served

    assert httpx.get(f"{url}/nowhere").status_code == 404
    response = httpx.get(f"{url}/token")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_requests_are_counted_per_path(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served

    for _ in range(3):
        httpx.get(f"{url}/jwks.json?x=1")
    httpx.get(f"{url}/.well-known/openid-configuration")

    assert issuer.requests["/jwks.json"] == 3
    assert issuer.requests["/.well-known/openid-configuration"] == 1
    assert issuer.requests["/token"] == 0


def test_an_outage_answers_503_everywhere_until_it_ends(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served

    with issuer.outage():
        assert httpx.get(f"{url}/jwks.json").status_code == 503
        assert token_request(url, data={}, auth=("billing", "s3cret")).status_code == 503
    assert httpx.get(f"{url}/jwks.json").status_code == 200
    assert issuer.requests["/jwks.json"] == 2


def test_the_server_stops_and_the_issuer_is_restored_after_the_context(
    token_issuer: LocalIssuer,
) -> None:
    with token_issuer.serve() as url:
        assert httpx.get(f"{url}/jwks.json").status_code == 200

    assert token_issuer.issuer == "https://issuer.test/"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/jwks.json")


def test_an_issuer_serves_once_at_a_time(token_issuer: LocalIssuer) -> None:
    with token_issuer.serve(), pytest.raises(RuntimeError), token_issuer.serve():
        pass


def test_a_hmac_issuer_never_publishes_its_secret() -> None:
    issuer = LocalIssuer("HS256")
    issuer.add_client("svc", "pw")

    with issuer.serve() as url:
        metadata = httpx.get(f"{url}/.well-known/openid-configuration").json()
        jwks = httpx.get(f"{url}/jwks.json")
        answer = token_request(url, data={"grant_type": "client_credentials"}, auth=("svc", "pw"))
        raw = answer.json()["access_token"]

        assert "jwks_uri" not in metadata
        assert jwks.status_code == 404
        assert "scope" not in answer.json()
        assert issuer.verifier().verify(raw).subject == "svc"


def test_an_oversized_request_body_is_refused(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served

    response = token_request(url, content=b"x" * 70_000)

    assert response.status_code == 413
    assert issuer.requests["/token"] == 0


# The served provider seen through the remote key sources


def test_oidc_discovery_finds_the_served_keys(served: tuple[LocalIssuer, str]) -> None:
    issuer, url = served
    verifier = accesstoken.TokenVerifier(
        keys=accesstoken.OIDCDiscovery(url), issuer=url, audience="api"
    )

    assert verifier.verify(issuer.issue("alice")).subject == "alice"
    assert verifier.verify(issuer.issue("bob")).subject == "bob"
    assert issuer.requests["/.well-known/openid-configuration"] == 1
    assert issuer.requests["/jwks.json"] == 1


def test_a_token_from_the_token_endpoint_verifies_through_discovery(
    served: tuple[LocalIssuer, str],
) -> None:
    issuer, url = served
    form = {"grant_type": "client_credentials", "scope": "orders:write"}
    raw = token_request(url, data=form, auth=("billing", "s3cret")).json()["access_token"]

    token = issuer.verifier(keys=accesstoken.OIDCDiscovery(url)).verify(raw)

    assert token.scopes == {"orders:write"}


def test_cached_keys_keep_serving_while_the_provider_is_down(
    served: tuple[LocalIssuer, str],
) -> None:
    issuer, url = served
    verifier = issuer.verifier(keys=accesstoken.JWKSEndpoint(f"{url}/jwks.json"))
    verifier.verify(issuer.issue())

    with issuer.outage():
        assert verifier.verify(issuer.issue("bob")).subject == "bob"
        with pytest.raises(accesstoken.KeySourceUnavailable):
            issuer.verifier(keys=accesstoken.JWKSEndpoint(f"{url}/jwks.json")).verify(
                issuer.issue()
            )
    assert issuer.requests["/jwks.json"] == 2
