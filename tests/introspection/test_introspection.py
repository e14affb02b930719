"""`IntrospectionVerifier` against the testing kit's real RFC 7662 endpoint."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from accesstoken import (
    InsufficientScope,
    IntrospectionVerifier,
    InvalidAudience,
    InvalidIssuer,
    KeySourceUnavailable,
    MalformedToken,
    MissingClaim,
    TokenExpired,
    TokenInactive,
    TokenRevoked,
    Verifier,
)
from accesstoken.revocation import MemoryDenylist

from .conftest import CLIENT_ID, CLIENT_SECRET, Served, Verify


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_is_a_verifier(idp: Served) -> None:
    assert isinstance(idp.verifier(), Verifier)


def test_an_active_token_becomes_an_access_token(idp: Served, verify: Verify) -> None:
    raw = idp.issuer.issue_opaque(
        "alice", ["orders:read", "orders:write"], client_id="web", roles=["admin"]
    )
    token = verify(idp.verifier(), raw, scopes=("orders:read",))

    assert token.raw == raw
    assert token.subject == "alice"
    assert token.issuer == idp.url
    assert token.audience == ("orders-api",)
    assert token.scopes == {"orders:read", "orders:write"}
    assert token.roles == {"admin"}
    assert token.client_id == "web"
    assert token.expires_at is not None
    assert token.expires_at.timestamp() > time.time()
    assert token.claims["token_type"] == "Bearer"
    assert "active" not in token.claims
    assert dict(token.header) == {}


def test_a_bearer_prefix_is_accepted(idp: Served, verify: Verify) -> None:
    raw = idp.issuer.issue_opaque()
    assert verify(idp.verifier(), f"Bearer {raw}").raw == raw


@pytest.mark.parametrize("raw", ["never-issued", "eyJhbGciOiJub25lIn0.e30."])
def test_an_unknown_token_is_inactive(idp: Served, verify: Verify, raw: str) -> None:
    with pytest.raises(TokenInactive) as caught:
        verify(idp.verifier(), raw)
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_token"


def test_an_expired_token_is_inactive_at_the_issuer(idp: Served, verify: Verify) -> None:
    with pytest.raises(TokenInactive):
        verify(idp.verifier(), idp.issuer.issue_opaque(expires_in=-10))


def test_an_active_answer_past_its_exp_is_expired_here(idp: Served, verify: Verify) -> None:
    # The issuer's clock says active; ours is ahead by more than the leeway.
    raw = idp.issuer.issue_opaque(expires_in=30)
    with pytest.raises(TokenExpired):
        verify(idp.verifier(clock=lambda: time.time() + 1000), raw)


@pytest.mark.parametrize("active", [False, "true", 1, None])
def test_only_json_true_is_active(active: Any) -> None:
    from accesstoken._introspection import read_introspection

    document = {"sub": "x"} if active is None else {"active": active, "sub": "x"}
    assert read_introspection(document, 0.0, 60, 5).claims is None


def test_a_revoked_opaque_token_is_inactive(idp: Served, verify: Verify) -> None:
    raw = idp.issuer.issue_opaque()
    verifier = idp.verifier(cache_ttl=0)
    assert verify(verifier, raw).raw == raw
    idp.issuer.revoke_opaque(raw)
    with pytest.raises(TokenInactive):
        verify(verifier, raw)


def test_wrong_audience_and_issuer_are_refused(idp: Served, verify: Verify) -> None:
    with pytest.raises(InvalidAudience):
        verify(idp.verifier(), idp.issuer.issue_opaque(aud="billing-api"))
    with pytest.raises(InvalidIssuer):
        verify(idp.verifier(issuer="https://other.test/"), idp.issuer.issue_opaque())
    with pytest.raises(MissingClaim):
        verify(idp.verifier(), idp.issuer.issue_opaque(aud=None))


def test_none_skips_the_issuer_and_audience_checks_on_purpose(idp: Served, verify: Verify) -> None:
    raw = idp.issuer.issue_opaque(aud=None, iss=None)
    assert verify(idp.verifier(issuer=None, audience=None), raw).audience == ()


def test_scopes_are_demanded_per_call_and_by_the_verifier(idp: Served, verify: Verify) -> None:
    raw = idp.issuer.issue_opaque(scopes=["orders:read"])
    with pytest.raises(InsufficientScope) as caught:
        verify(idp.verifier(), raw, scopes=("orders:write",))
    assert caught.value.required_scopes == ("orders:write",)
    with pytest.raises(InsufficientScope):
        verify(idp.verifier(required_scopes=("admin",)), raw)
    assert verify(idp.verifier(required_scopes=("orders:read",)), raw).scopes == {"orders:read"}


def test_a_revocation_check_is_asked_too(idp: Served, verify: Verify) -> None:
    deny = MemoryDenylist()
    verifier = idp.verifier(revocation=deny)
    raw = idp.issuer.issue_opaque()
    deny.revoke(verify(verifier, raw))
    with pytest.raises(TokenRevoked):
        verify(verifier, raw)


def test_positive_answers_are_cached(idp: Served, verify: Verify) -> None:
    verifier = idp.verifier()
    raw = idp.issuer.issue_opaque(scopes=["a"])
    for _ in range(5):
        assert verify(verifier, raw).subject == "user"
    with pytest.raises(InsufficientScope):  # scopes are checked on cached answers too
        verify(verifier, raw, scopes=("b",))
    assert idp.calls == 1


def test_a_cached_answer_s_nested_claims_cannot_be_changed(idp: Served, verify: Verify) -> None:
    # Every request for the token is served the same cached answer (finding 6 of "Hardening
    # against hostile servers, paths and re-encoded signatures").
    verifier = idp.verifier()
    raw = idp.issuer.issue_opaque(roles=["user"], realm_access={"roles": ["user"]})
    first = verify(verifier, raw)
    with pytest.raises(TypeError):
        first.claims["roles"].append("admin")
    with pytest.raises(TypeError):
        first.claims["realm_access"]["roles"].append("admin")
    second = verify(verifier, raw)
    assert idp.calls == 1
    assert second.claims["roles"] == ["user"]
    assert second.claims["realm_access"] == {"roles": ["user"]}
    assert isinstance(second.claims["roles"], list)


def test_a_positive_answer_leaves_the_cache_after_cache_ttl(idp: Served, verify: Verify) -> None:
    clock = Clock()
    verifier = idp.verifier(cache_ttl=60, clock=clock)
    raw = idp.issuer.issue_opaque(expires_in=3600)
    verify(verifier, raw)
    clock.now += 59
    verify(verifier, raw)
    assert idp.calls == 1
    clock.now += 2
    verify(verifier, raw)
    assert idp.calls == 2


def test_a_positive_answer_never_outlives_exp(idp: Served, verify: Verify) -> None:
    clock = Clock()
    verifier = idp.verifier(cache_ttl=600, clock=clock)
    raw = idp.issuer.issue_opaque(expires_in=30)
    verify(verifier, raw)
    clock.now += 29
    verify(verifier, raw)
    assert idp.calls == 1
    clock.now += 2  # past exp: asked again (the issuer's own clock still says active)
    verify(verifier, raw)
    assert idp.calls == 2


def test_negative_answers_are_cached_briefly(idp: Served, verify: Verify) -> None:
    clock = Clock()
    verifier = idp.verifier(negative_cache_ttl=5, clock=clock)
    for _ in range(3):
        with pytest.raises(TokenInactive):
            verify(verifier, "unknown-token")
    assert idp.calls == 1
    clock.now += 5
    with pytest.raises(TokenInactive):
        verify(verifier, "unknown-token")
    assert idp.calls == 2


def test_cache_ttl_zero_asks_every_time(idp: Served, verify: Verify) -> None:
    verifier = idp.verifier(cache_ttl=0, negative_cache_ttl=0)
    raw = idp.issuer.issue_opaque()
    verify(verifier, raw)
    verify(verifier, raw)
    assert idp.calls == 2


def test_the_cache_is_keyed_by_the_tokens_sha256_and_bounded(idp: Served) -> None:
    verifier = idp.verifier(max_cache_entries=2)
    raws = [idp.issuer.issue_opaque() for _ in range(3)]
    for raw in raws:
        verifier.verify(raw)
    keys = list(verifier._cache.keys())
    assert len(keys) == 2
    assert set(keys) <= {hashlib.sha256(raw.encode()).digest() for raw in raws}


def test_an_outage_is_503_and_never_cached(idp: Served, verify: Verify) -> None:
    verifier = idp.verifier()
    raw = idp.issuer.issue_opaque()
    with idp.issuer.outage():
        with pytest.raises(KeySourceUnavailable) as caught:
            verify(verifier, raw)
        assert caught.value.status_code == 503
        with pytest.raises(KeySourceUnavailable):
            verify(verifier, raw)
    assert verify(verifier, raw).raw == raw
    assert idp.calls == 3


def test_a_stopped_server_is_503(verify: Verify) -> None:
    from accesstoken.testing import LocalIssuer

    issuer = LocalIssuer("ES256")
    issuer.add_client(CLIENT_ID, CLIENT_SECRET)
    with issuer.serve():
        verifier = issuer.introspection_verifier(CLIENT_ID, CLIENT_SECRET, timeout=1)
    with pytest.raises(KeySourceUnavailable):
        verify(verifier, "some-token")


def test_a_wrong_client_secret_is_503_not_the_tokens_fault(idp: Served, verify: Verify) -> None:
    verifier = idp.issuer.introspection_verifier(CLIENT_ID, "wrong")
    with pytest.raises(KeySourceUnavailable):
        verify(verifier, idp.issuer.issue_opaque())


def test_credentials_are_form_encoded_before_basic_auth(idp: Served, verify: Verify) -> None:
    idp.issuer.add_client("svc:a b", "p+ss:wörd")
    verifier = idp.issuer.introspection_verifier("svc:a b", "p+ss:wörd")
    assert verify(verifier, idp.issuer.issue_opaque()).subject == "user"


def test_any_httpx_auth_can_authenticate(idp: Served, verify: Verify) -> None:
    verifier = IntrospectionVerifier(
        f"{idp.url}/introspect",
        auth=httpx.BasicAuth(CLIENT_ID, CLIENT_SECRET),
        issuer=idp.url,
        audience="orders-api",
    )
    assert verify(verifier, idp.issuer.issue_opaque()).subject == "user"


@pytest.mark.parametrize("raw", ["", "two words", "tab\there", "é"])
def test_what_is_no_bearer_token_is_malformed_without_a_call(
    idp: Served, verify: Verify, raw: str
) -> None:
    with pytest.raises(MalformedToken):
        verify(idp.verifier(), raw)
    assert idp.calls == 0


def test_a_token_over_max_token_bytes_is_refused_without_a_call(idp: Served) -> None:
    with pytest.raises(MalformedToken):
        idp.verifier(max_token_bytes=16).verify("a" * 17)
    assert idp.calls == 0


def test_from_discovery_finds_the_endpoint_and_checks_the_issuer(
    idp: Served, verify: Verify
) -> None:
    verifier = IntrospectionVerifier.from_discovery(
        idp.url, audience="orders-api", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    raw = idp.issuer.issue_opaque()
    assert verify(verifier, raw).issuer == idp.url
    assert idp.issuer.requests["/.well-known/openid-configuration"] == 1
    with pytest.raises(InvalidIssuer):  # issuer= defaults to the discovered issuer
        verify(verifier, idp.issuer.issue_opaque(iss="https://elsewhere.test/"))


def test_from_discovery_with_a_mismatched_issuer_is_503(idp: Served, verify: Verify) -> None:
    verifier = IntrospectionVerifier.from_discovery(
        idp.url + "/tenant",
        audience="orders-api",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with pytest.raises(KeySourceUnavailable):
        verify(verifier, idp.issuer.issue_opaque())
    assert idp.calls == 0


def test_from_discovery_without_an_endpoint_in_the_metadata_is_503(verify: Verify) -> None:
    from accesstoken.testing._server import Response, route, serve_in_thread

    documents: dict[str, Any] = {}
    app = route({("GET", "/.well-known/openid-configuration"): lambda _: Response.json(documents)})
    with serve_in_thread(app) as url:
        documents["issuer"] = url
        verifier = IntrospectionVerifier.from_discovery(
            url, audience="api", client_id="c", client_secret="s"
        )
        with pytest.raises(KeySourceUnavailable):
            verify(verifier, "token")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"client_id": None, "client_secret": None}, TypeError),
        ({"client_id": CLIENT_ID, "client_secret": None}, TypeError),
        ({"client_id": "", "client_secret": "s"}, ValueError),
        ({"auth": httpx.BasicAuth("a", "b")}, ValueError),  # and client_id/secret: ambiguous
        ({"cache_ttl": -1}, ValueError),
        ({"negative_cache_ttl": float("inf")}, ValueError),
        ({"max_cache_entries": -1}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"leeway": "60"}, TypeError),
        ({"audience": ""}, ValueError),
        ({"url": "http://idp.example.com/introspect"}, ValueError),  # plain http, not loopback
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any], error: type) -> None:
    arguments: dict[str, Any] = {
        "url": "https://idp.example.com/introspect",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "issuer": "https://idp.example.com/",
        "audience": "orders-api",
        **options,
    }
    url = arguments.pop("url")
    with pytest.raises(error):
        IntrospectionVerifier(url, **arguments)


def test_issuer_and_audience_are_required_keywords() -> None:
    with pytest.raises(TypeError):
        IntrospectionVerifier(  # type: ignore[call-arg]
            "https://idp.example.com/introspect", client_id="a", client_secret="b"
        )


def test_repr_shows_no_secret(idp: Served) -> None:
    assert CLIENT_SECRET not in repr(idp.verifier())
