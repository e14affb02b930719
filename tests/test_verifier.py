"""TokenVerifier: algorithms, key choice, claims, scopes, roles and options, on both paths."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

import pytest

from accesstoken import (
    AccessToken,
    DisallowedAlgorithm,
    Forbidden,
    HMACSecret,
    InsufficientScope,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenType,
    KeySet,
    KeySource,
    MissingClaim,
    StaticKeys,
    TokenExpired,
    TokenNotYetValid,
    TokenRevoked,
    TokenVerifier,
    UnknownKey,
)
from tests.conftest import (
    ALGORITHMS,
    AUDIENCE,
    ISSUER,
    NOW,
    Verify,
    claims,
    make_verifier,
    mint,
    public_jwks,
    signing_key,
)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_every_algorithm_verifies(alg: str, verify: Verify) -> None:
    token = verify(make_verifier(alg), mint(alg))
    assert token.subject == "user-1"
    assert token.header["alg"] == alg


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_every_algorithm_rejects_a_token_signed_by_another_key(alg: str, verify: Verify) -> None:
    other = type(
        signing_key(alg)
    ).generate_key(  # type: ignore[attr-defined]
        *(
            [int(alg[2:])]
            if alg.startswith("HS")
            else [2048]
            if alg[:2] in ("RS", "PS")
            else [{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]]
            if alg.startswith("ES")
            else ["Ed448" if alg == "Ed448" else "Ed25519"]
        )
    )
    with pytest.raises(InvalidSignature):
        verify(make_verifier(alg), mint(alg, key=other))


def test_access_token_attributes(verify: Verify) -> None:
    payload = claims(
        aud=["other", AUDIENCE],
        nbf=int(NOW) - 5,
        client_id="cli",
        roles=["admin", "viewer"],
        nested={"a": [1, 2]},
    )
    token = verify(make_verifier(), mint(payload=payload))
    assert isinstance(token, AccessToken)
    assert token.raw.count(".") == 2
    assert token.subject == "user-1"
    assert token.issuer == ISSUER
    assert token.audience == ("other", AUDIENCE)
    assert token.scopes == frozenset({"orders:read", "orders:write"})
    assert token.roles == frozenset({"admin", "viewer"})
    assert token.client_id == "cli"
    assert token.jti == "jti-1"
    assert token.expires_at == datetime.fromtimestamp(NOW + 300, tz=timezone.utc)
    assert token.issued_at == datetime.fromtimestamp(NOW - 10, tz=timezone.utc)
    assert token.not_before == datetime.fromtimestamp(NOW - 5, tz=timezone.utc)
    assert token.expires_at.tzinfo is timezone.utc
    assert token.claims["nested"] == {"a": [1, 2]}
    assert isinstance(token.claims["roles"], list)
    with pytest.raises(TypeError):
        token.claims["sub"] = "admin"  # type: ignore[index]
    for name in ("raw", "header", "claims", "subject", "audience", "scopes", "roles", "jti"):
        with pytest.raises(AttributeError):
            setattr(token, name, "admin")
        with pytest.raises(AttributeError):
            delattr(token, name)
    with pytest.raises(AttributeError):
        token.extra = "admin"  # type: ignore[attr-defined]
    assert token.subject == "user-1"
    assert token.roles == frozenset({"admin", "viewer"})


def test_bearer_prefix_and_bytes_are_accepted(verify: Verify) -> None:
    raw = mint()
    verifier = make_verifier()
    assert verify(verifier, "Bearer " + raw).raw == raw
    assert verify(verifier, raw.encode()).raw == raw


def test_client_id_falls_back_to_azp(verify: Verify) -> None:
    token = verify(make_verifier(), mint(payload=claims(azp="spa")))
    assert token.client_id == "spa"


# -- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-61, False), (-60, False), (-59, True), (0, True), (300, True)]
)
def test_exp_with_leeway(offset: int, accepted: bool, verify: Verify) -> None:
    raw = mint(payload=claims(exp=int(NOW) + offset))
    if accepted:
        verify(make_verifier(), raw)
    else:
        with pytest.raises(TokenExpired):
            verify(make_verifier(), raw)


def test_exp_without_leeway(verify: Verify) -> None:
    with pytest.raises(TokenExpired):
        verify(make_verifier(leeway=0), mint(payload=claims(exp=int(NOW))))
    verify(make_verifier(leeway=0), mint(payload=claims(exp=NOW + 0.5)))


def test_nbf_and_iat_in_the_future(verify: Verify) -> None:
    verify(make_verifier(), mint(payload=claims(nbf=int(NOW) + 60)))
    with pytest.raises(TokenNotYetValid):
        verify(make_verifier(), mint(payload=claims(nbf=int(NOW) + 61)))
    verify(make_verifier(), mint(payload=claims(iat=int(NOW) + 60)))
    with pytest.raises(TokenNotYetValid):
        verify(make_verifier(), mint(payload=claims(iat=int(NOW) + 61)))


@pytest.mark.parametrize(
    "value", ["1700000300", True, None, [1], {"t": 1}, -1, 10**20, 1e300, 2.6e11]
)
@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
def test_dates_that_are_not_numeric_dates(name: str, value: Any, verify: Verify) -> None:
    payload = claims()
    payload[name] = value
    with pytest.raises(InvalidClaim):
        verify(make_verifier(), mint(payload=payload))


def test_float_dates_are_accepted(verify: Verify) -> None:
    token = verify(make_verifier(), mint(payload=claims(exp=NOW + 10.25)))
    assert token.expires_at is not None
    assert token.expires_at.microsecond == 250000


def test_injected_clock_is_read_per_call(verify: Verify) -> None:
    now = [NOW]
    verifier = make_verifier(clock=lambda: now[0], leeway=0)
    raw = mint(payload=claims(exp=int(NOW) + 10))
    verify(verifier, raw)
    now[0] = NOW + 10
    with pytest.raises(TokenExpired):
        verify(verifier, raw)


# -- required claims ----------------------------------------------------------------------


def test_exp_is_required_by_default(verify: Verify) -> None:
    with pytest.raises(MissingClaim):
        verify(make_verifier(), mint(payload=claims(exp=None)))


@pytest.mark.parametrize("required", [(), ("sub",)])
def test_exp_requirement_can_be_dropped(required: tuple[str, ...], verify: Verify) -> None:
    verifier = make_verifier(required_claims=required)
    assert verify(verifier, mint(payload=claims(exp=None))).expires_at is None
    with pytest.raises(TokenExpired):  # an exp that is present is still checked
        verify(verifier, mint(payload=claims(exp=int(NOW) - 100)))


def test_required_claims_add_to_exp(verify: Verify) -> None:
    verifier = make_verifier(required_claims=("exp", "sub", "jti"))
    verify(verifier, mint())
    with pytest.raises(MissingClaim) as info:
        verify(verifier, mint(payload=claims(jti=None)))
    assert '"jti"' in info.value.description


# -- issuer and audience --------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss", ["https://issuer.test", "https://issuer.test/x", "HTTPS://issuer.test/", " " + ISSUER]
)
def test_issuer_is_compared_exactly(iss: str, verify: Verify) -> None:
    with pytest.raises(InvalidIssuer):
        verify(make_verifier(), mint(payload=claims(iss=iss)))


def test_issuer_missing_or_not_a_string(verify: Verify) -> None:
    with pytest.raises(MissingClaim):
        verify(make_verifier(), mint(payload=claims(iss=None)))
    with pytest.raises(InvalidIssuer):
        verify(make_verifier(), mint(payload=claims(iss=[ISSUER])))


def test_several_issuers_and_audiences(verify: Verify) -> None:
    verifier = make_verifier(issuer=["https://a/", ISSUER], audience={"x", AUDIENCE})
    assert verify(verifier, mint()).issuer == ISSUER


def test_none_skips_issuer_and_audience_on_purpose(verify: Verify) -> None:
    verifier = make_verifier(issuer=None, audience=None)
    token = verify(verifier, mint(payload=claims(iss="https://elsewhere/", aud=None)))
    assert token.issuer == "https://elsewhere/"
    assert token.audience == ()


@pytest.mark.parametrize(
    "aud",
    [
        "orders-api2",
        "orders",
        "orders-api ",
        "ORDERS-API",
        ["orders-ap", "rders-api"],
        [],
        "https://orders-api",
    ],
)
def test_audience_is_compared_exactly(aud: Any, verify: Verify) -> None:
    with pytest.raises(InvalidAudience):
        verify(make_verifier(), mint(payload=claims(aud=aud)))


@pytest.mark.parametrize("aud", [123, [AUDIENCE, 1], {"aud": AUDIENCE}, True])
def test_audience_of_the_wrong_type(aud: Any, verify: Verify) -> None:
    with pytest.raises(InvalidAudience):
        verify(make_verifier(), mint(payload=claims(aud=aud)))


def test_audience_missing(verify: Verify) -> None:
    with pytest.raises(MissingClaim):
        verify(make_verifier(), mint(payload=claims(aud=None)))


def test_issuer_and_audience_are_required_keywords() -> None:
    keys = StaticKeys.from_jwks(public_jwks("RS256"))
    with pytest.raises(TypeError):
        TokenVerifier(keys, audience=AUDIENCE)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        TokenVerifier(keys, issuer=ISSUER)  # type: ignore[call-arg]


# -- token type ------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_token_type_matches(typ: str, verify: Verify) -> None:
    verify(make_verifier(token_type="at+jwt"), mint(header={"typ": typ}))


@pytest.mark.parametrize("typ", ["JWT", None, "at+jwt ", "application/x/at+jwt", 1])
def test_token_type_mismatch(typ: Any, verify: Verify) -> None:
    with pytest.raises(InvalidTokenType):
        verify(make_verifier(token_type="at+jwt"), mint(header={"typ": typ}))


# -- scopes and roles -------------------------------------------------------------------


def test_scopes_demanded_per_call(verify: Verify) -> None:
    verifier = make_verifier()
    assert verify(verifier, mint(), scopes=("orders:read",)).has_scopes("orders:read")
    with pytest.raises(InsufficientScope) as info:
        verify(verifier, mint(), scopes=("orders:read", "orders:delete"))
    assert info.value.required_scopes == ("orders:delete", "orders:read")
    assert 'scope="orders:delete orders:read"' in info.value.www_authenticate()


def test_required_scopes_apply_to_every_call(verify: Verify) -> None:
    verifier = make_verifier(required_scopes=("admin",))
    with pytest.raises(InsufficientScope):
        verify(verifier, mint())
    verify(verifier, mint(payload=claims(scope="admin")))


def test_a_single_scope_string_is_one_scope(verify: Verify) -> None:
    with pytest.raises(InsufficientScope):
        verify(make_verifier(), mint(payload=claims(scope="o")), scopes="orders")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"scope": "a  b"}, {"a", "b"}),
        ({"scope": ""}, set()),
        ({"scp": ["a", "b"]}, {"a", "b"}),
        ({"scp": "a b"}, {"a", "b"}),
        ({"scope": "a", "scp": ["b"]}, {"a"}),
    ],
)
def test_scope_claims(payload: dict[str, Any], expected: set[str], verify: Verify) -> None:
    token = verify(make_verifier(), mint(payload=claims(**{"scope": None, **payload})))
    assert token.scopes == expected


@pytest.mark.parametrize("payload", [{"scope": ["a"]}, {"scp": [1]}, {"scp": {"a": 1}}])
def test_scope_claims_of_the_wrong_type(payload: dict[str, Any], verify: Verify) -> None:
    with pytest.raises(InvalidClaim):
        verify(make_verifier(), mint(payload=claims(**{"scope": None, **payload})))


def test_custom_scope_claim(verify: Verify) -> None:
    verifier = make_verifier(scope_claim="permissions")
    token = verify(verifier, mint(payload=claims(permissions=["read:orders"])))
    assert token.scopes == {"read:orders"}


def test_roles_by_dotted_path(verify: Verify) -> None:
    verifier = make_verifier(roles_claim="realm_access.roles")
    token = verify(verifier, mint(payload=claims(realm_access={"roles": ["admin", "user"]})))
    assert token.has_roles("admin")
    assert not token.has_roles("admin", "root")
    token.require_roles("user")
    with pytest.raises(Forbidden):
        token.require_roles("root")
    assert verify(verifier, mint()).roles == frozenset()
    with pytest.raises(InvalidClaim):
        verify(verifier, mint(payload=claims(realm_access={"roles": [{"x": 1}]})))


def test_require_scopes_on_the_token(verify: Verify) -> None:
    token = verify(make_verifier(), mint())
    token.require_scopes("orders:read")
    with pytest.raises(InsufficientScope) as info:
        token.require_scopes("orders:read", "admin")
    assert "admin" in info.value.required_scopes


@pytest.mark.parametrize("name", ["sub", "jti", "client_id", "azp"])
def test_string_claims_of_the_wrong_type(name: str, verify: Verify) -> None:
    with pytest.raises(InvalidClaim):
        verify(make_verifier(), mint(payload=claims(**{name: 42})))


# -- algorithms and keys ---------------------------------------------------------------


def test_algorithm_allow_list(verify: Verify) -> None:
    verifier = make_verifier("RS256", "ES256", algorithms=["ES256"])
    verify(verifier, mint("ES256"))
    with pytest.raises(DisallowedAlgorithm):
        verify(verifier, mint("RS256"))


def test_algorithm_allow_list_as_a_string(verify: Verify) -> None:
    verifier = make_verifier("RS256", "PS256", algorithms="PS256")
    verify(verifier, mint("PS256", header={"kid": "kid-RS256"}, key=signing_key("RS256")))
    with pytest.raises(DisallowedAlgorithm):
        verify(verifier, mint("RS256"))


@pytest.mark.parametrize("bad", [["none"], ["NONE"], ["HS1"], [], "RS256x"])
def test_bad_algorithm_options_fail_at_construction(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        make_verifier(algorithms=bad)


def test_kid_selects_the_key(verify: Verify) -> None:
    verifier = make_verifier("ES256", "RS256")
    verify(verifier, mint("ES256"))
    with pytest.raises(UnknownKey):
        verify(verifier, mint("ES256", header={"kid": "kid-other"}))


def test_token_without_kid_needs_exactly_one_candidate(verify: Verify) -> None:
    one = make_verifier("ES256", "RS256")
    verify(one, mint("ES256", header={"kid": None}))
    second_rsa = {**public_jwks("PS256")["keys"][0], "kid": "kid-2"}
    keys = StaticKeys.from_jwks({"keys": [*public_jwks("RS256")["keys"], second_rsa]})
    two = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW)
    with pytest.raises(UnknownKey):
        verify(two, mint("RS256", header={"kid": None}))
    verify(two, mint("RS256"))


def test_key_without_kid_serves_tokens_with_any_kid(verify: Verify) -> None:
    secret = signing_key("HS256").as_dict(private=True)["k"]
    import base64

    raw_secret = base64.urlsafe_b64decode(secret + "==")
    verifier = TokenVerifier(
        HMACSecret(raw_secret), issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW
    )
    verify(verifier, mint("HS256"))
    verify(verifier, mint("HS256", header={"kid": "anything"}))


def test_a_short_secret_is_never_used_for_a_longer_hash(verify: Verify) -> None:
    secret = b"s" * 40
    verifier = TokenVerifier(
        HMACSecret(secret), issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW
    )
    from joserfc.jwk import OctKey

    key = OctKey.import_key(secret)
    verify(verifier, mint("HS256", header={"kid": None}, key=key))
    with pytest.raises(UnknownKey):
        verify(verifier, mint("HS512", header={"kid": None}, key=key))


def test_refresh_is_asked_once_for_an_unknown_kid(verify: Verify) -> None:
    class Rotating(KeySource):
        def __init__(self) -> None:
            self.refreshes = 0
            self.current = StaticKeys.from_jwks(public_jwks("RS256")).key_set()

        def key_set(self) -> KeySet:
            return self.current

        def refresh(self) -> KeySet | None:
            self.refreshes += 1
            self.current = StaticKeys.from_jwks(public_jwks("RS256", "ES256")).key_set()
            return self.current

    source = Rotating()
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW)
    verify(verifier, mint("RS256"))
    assert source.refreshes == 0
    verify(verifier, mint("ES256"))
    assert source.refreshes == 1
    with pytest.raises(UnknownKey):
        verify(verifier, mint("ES256", header={"kid": "nope"}))
    assert source.refreshes == 2


# -- revocation --------------------------------------------------------------------------


class DenyJti:
    def __init__(self, *jtis: str) -> None:
        self.jtis = set(jtis)
        self.asked = 0

    def is_revoked(self, token: AccessToken) -> bool:
        self.asked += 1
        return token.jti in self.jtis

    async def is_revoked_async(self, token: AccessToken) -> bool:
        return self.is_revoked(token)


def test_revocation_is_asked_after_the_other_checks(verify: Verify) -> None:
    deny = DenyJti("jti-1")
    verifier = make_verifier(revocation=deny)
    with pytest.raises(TokenRevoked):
        verify(verifier, mint())
    verify(verifier, mint(payload=claims(jti="jti-2")))
    with pytest.raises(TokenExpired):
        verify(verifier, mint(payload=claims(exp=int(NOW) - 1000)))
    assert deny.asked == 2


# -- verified-token cache --------------------------------------------------------------


def test_cache_skips_the_signature_but_rechecks_dates_scopes_and_revocation(
    verify: Verify,
) -> None:
    now = [NOW]
    deny = DenyJti()
    verifier = make_verifier(cache_size=10, clock=lambda: now[0], revocation=deny, leeway=0)
    raw = mint(payload=claims(exp=int(NOW) + 100))
    first = verify(verifier, raw)
    assert verify(verifier, raw) is first
    with pytest.raises(InsufficientScope):
        verify(verifier, raw, scopes=("admin",))
    deny.jtis.add("jti-1")
    with pytest.raises(TokenRevoked):
        verify(verifier, raw)
    deny.jtis.clear()
    now[0] = NOW + 100
    with pytest.raises(TokenExpired):
        verify(verifier, raw)


def test_cache_never_serves_a_tampered_token(verify: Verify) -> None:
    verifier = make_verifier(cache_size=10)
    raw = mint()
    verify(verifier, raw)
    head, body, sig = raw.split(".")
    with pytest.raises(InvalidSignature):
        verify(verifier, f"{head}.{body}.{sig[:-4]}AAAA")


# Issue "Hardening against hostile servers, paths and re-encoded signatures", finding 6: with
# cache_size every request presenting a token gets the same claims, and tokens that share a
# header segment the same header, so nothing inside them may be changeable.
def test_a_cached_token_s_nested_claims_cannot_be_changed_for_the_next_request(
    verify: Verify,
) -> None:
    payload = claims(realm_access={"roles": ["user"]}, groups=[["a"], {"b": [1]}])
    verifier = make_verifier(cache_size=10, roles_claim="realm_access.roles")
    raw = mint(payload=payload)
    first = verify(verifier, raw)
    roles = first.claims["realm_access"]["roles"]
    assert isinstance(roles, list)
    assert isinstance(first.claims["realm_access"], dict)
    with pytest.raises(TypeError):
        roles.append("admin")
    with pytest.raises(TypeError):
        first.claims["realm_access"]["roles"] = ["admin"]
    with pytest.raises(TypeError):
        first.claims["groups"][0].append("admin")
    with pytest.raises(TypeError):
        first.claims["groups"][1]["b"].append(2)
    with pytest.raises(TypeError):
        first.claims["realm_access"] = {}  # type: ignore[index]
    second = verify(verifier, raw)
    assert second is first  # the cache hit: the very same objects
    assert second.claims["realm_access"]["roles"] == ["user"]
    assert second.roles == {"user"}
    assert json.loads(json.dumps(dict(second.claims))) == payload


def test_a_shared_header_cannot_be_changed_for_the_next_token(verify: Verify) -> None:
    header = {"kid": "kid-RS256", "ext": {"tags": ["a"]}}
    verifier = make_verifier()
    one = verify(verifier, mint(payload=claims(jti="one"), header=header))
    two = verify(verifier, mint(payload=claims(jti="two"), header=header))
    assert two.header["ext"] is one.header["ext"]  # the header memo: one parse per segment
    with pytest.raises(TypeError):
        one.header["ext"]["tags"].append("b")
    with pytest.raises(TypeError):
        one.header["ext"].clear()
    assert two.header["ext"] == {"tags": ["a"]}


# -- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"leeway": -1},
        {"leeway": math.nan},
        {"leeway": math.inf},
        {"max_token_bytes": 0},
        {"cache_size": -1},
        {"issuer": ""},
        {"issuer": []},
        {"audience": ()},
        {"roles_claim": "a..b"},
        {"scope_claim": ""},
        {"token_type": ""},
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        make_verifier(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"leeway": "60"},
        {"leeway": True},
        {"issuer": b"https://issuer.test/"},
        {"audience": [1]},
        {"clock": 5},
        {"revocation": object()},
        {"max_token_bytes": 1.5},
    ],
)
def test_options_of_the_wrong_type_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        make_verifier(**options)


def test_keys_must_be_a_key_source() -> None:
    with pytest.raises(TypeError):
        TokenVerifier(b"secret" * 8, issuer=None, audience=None)  # type: ignore[arg-type]


def test_repr_shows_no_secret() -> None:
    secret = "a-very-secret-value-of-32-bytes!!"
    verifier = TokenVerifier(HMACSecret(secret), issuer=ISSUER, audience=AUDIENCE)
    assert secret not in repr(verifier)
    assert secret not in repr(HMACSecret(secret).key_set().keys)
