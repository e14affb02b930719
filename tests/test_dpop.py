"""DPoP (RFC 9449) and certificate-bound tokens (RFC 8705), through `check_binding` itself.

Every check of RFC 9449 §4.3 fails on its own here, with everything else about the proof
right, so a test passes only if that one check is made. Proofs are signed by the testing
kit (joserfc), never by the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey, OKPKey, RSAKey

import accesstoken
from accesstoken import (
    DPoP,
    InvalidClaim,
    InvalidDPoPProof,
    InvalidToken,
    RequestContext,
    RevocationUnavailable,
)
from accesstoken._bearer import split_scheme
from accesstoken._dpop import (
    BEARER,
    DPOP,
    binding_needed,
    certificate_thumbprint,
    jwk_thumbprint,
)
from accesstoken._keys.base import VerificationKey
from accesstoken._remote.flow import Flow, run, run_async
from accesstoken.revocation import MemoryReplayCache
from accesstoken.testing import DPoPKey, LocalIssuer
from tests._dpop_flow import check_binding

from .conftest import NOW, self_signed

URL = "https://api.example.com/orders"
RAW = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"  # what `ath` hashes; never parsed
KEY = DPoPKey("ES256")
CLAIMS: dict[str, Any] = {"sub": "user", "cnf": KEY.cnf}

Drive = Callable[[Flow[None]], None]


@pytest.fixture(params=["sync", "async"])
def drive(request: pytest.FixtureRequest) -> Drive:
    """Run a flow with `run()` or on an event loop with `run_async()`."""
    if request.param == "sync":
        return run
    return lambda flow: asyncio.run(run_async(flow))


def proof(key: DPoPKey = KEY, **options: Any) -> str:
    """Return a proof for POST URL with RAW, made at NOW; `options` go to `DPoPKey.proof`."""
    options.setdefault("iat", int(NOW))
    return key.proof("POST", URL, RAW, **options)


def proof_without(claim: str) -> str:
    """Return a good proof but for `claim`, left out (`proof()` fills in `iat` and `jti`)."""
    claims = {"htm": "POST", "htu": URL, "iat": int(NOW), "jti": "j", "ath": ath(RAW)}
    del claims[claim]
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.jwk}
    return KEY.sign(header, json.dumps(claims).encode())


def check(
    drive: Drive,
    dpop_proof: str | None,
    *,
    claims: Mapping[str, Any] = CLAIMS,
    dpop: DPoP | None = None,
    scheme: str | None = DPOP,
    method: str = "POST",
    url: str = URL + "?page=2",
    raw: str = RAW,
    certificate: bytes | None = None,
    now: float = NOW,
) -> None:
    request = RequestContext(method, url, dpop_proof, certificate)
    drive(check_binding(claims, raw, scheme, request, dpop or DPoP(), now))


def forge(
    valid: str, *, header: Mapping[str, Any] | None = None, signature: bytes | None = None
) -> str:
    """Return `valid` with its header replaced and/or its signature replaced."""
    head, body, sig = valid.split(".")
    if header is not None:
        head = b64(json.dumps(header).encode())
    if signature is not None:
        sig = b64(signature)
    return f"{head}.{body}.{sig}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(raw: str) -> str:
    return b64(hashlib.sha256(raw.encode()).digest())


# -- RFC 7638 ------------------------------------------------------------------------------

# RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
        "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vM"
        "QFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_thumbprint_of_rfc_7638_example() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    "key",
    [RSAKey.generate_key(2048), ECKey.generate_key("P-384"), OKPKey.generate_key("Ed25519")],
    ids=["RSA", "EC", "OKP"],
)
def test_thumbprint_agrees_with_joserfc(key: RSAKey | ECKey | OKPKey) -> None:
    jwk = {**key.as_dict(private=False), "kid": "k", "use": "sig"}  # extra members do not count
    assert jwk_thumbprint(jwk) == key.thumbprint()


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": 1},
        {"kty": ["RSA"], "n": "AQAB", "e": "AQAB"},
        {},
    ],
)
def test_thumbprint_of_what_is_no_public_key_is_a_value_error(jwk: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="JWK"):
        jwk_thumbprint(jwk)


# -- a good proof ----------------------------------------------------------------------------

SIGNERS = {alg: DPoPKey(alg) for alg in ("ES256", "ES384", "RS256", "PS256", "EdDSA")}


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_a_proof_of_the_bound_key_is_accepted(drive: Drive, alg: str) -> None:
    key = SIGNERS[alg]
    dpop = DPoP(algorithms=sorted(SIGNERS))
    check(drive, proof(key), claims={"cnf": key.cnf}, dpop=dpop)


def test_a_token_from_the_testing_kit_binds_to_its_key(drive: Drive) -> None:
    issuer = LocalIssuer(algorithm="ES256")
    raw = issuer.issue(dpop_key=KEY)
    # A verifier without dpop= refuses a bound token; its claims are read here after checking.
    sent_first = KEY.proof("GET", URL, raw)
    request = RequestContext("GET", URL, dpop_proof=sent_first)
    token = issuer.verifier(dpop=DPoP()).verify(f"DPoP {raw}", request=request)
    assert token.claims["cnf"] == {"jkt": KEY.jkt}
    sent = KEY.proof("GET", URL, f"DPoP {raw}")
    check(drive, sent, claims=token.claims, raw=raw, method="GET", now=time.time())


def test_typ_may_carry_the_application_prefix(drive: Drive) -> None:
    check(drive, proof(headers={"typ": "application/DPoP+JWT"}))


@pytest.mark.parametrize(
    ("htu", "url"),
    [
        ("https://api.example.com/orders", "https://api.example.com/orders?x=1#frag"),
        ("HTTPS://API.Example.COM/orders", "https://api.example.com/orders"),
        ("https://api.example.com:443/orders", "https://api.example.com/orders"),
        ("http://api.example.com:80/orders", "http://api.example.com/orders"),
        ("https://api.example.com", "https://api.example.com/"),
        ("https://api.example.com/%7Eme/a%2fb", "https://api.example.com/~me/a%2Fb"),
        ("https://api.example.com/caf%C3%A9", "https://api.example.com/café"),
        ("https://[::1]:8443/orders", "https://[::1]:8443/orders"),
    ],
)
def test_htu_is_compared_after_normalization(drive: Drive, htu: str, url: str) -> None:
    check(drive, proof(htu=htu), url=url)


@pytest.mark.parametrize("iat", [NOW - 300, NOW + 5, NOW - 300.0 + 0.5])
def test_iat_at_the_edges_of_the_window_is_accepted(drive: Drive, iat: float) -> None:
    check(drive, proof(iat=iat))


# -- RFC 9449 §4.3, one check at a time ------------------------------------------------------

OTHER = DPoPKey("ES256")
DUPLICATE_MEMBER = b'{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}'


def _refusals() -> list[tuple[str, Callable[[], str], str]]:
    """(name, a proof failing that one check, what the refusal says)."""
    good = proof()
    head, body, sig = good.split(".")
    unsigned_header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.jwk}
    return [
        ("two proofs", lambda: f"{good}, {proof()}", "exactly one DPoP proof"),
        ("two proofs, no space", lambda: f"{good},{good}", "exactly one DPoP proof"),
        ("not a JWT", lambda: "not-a-jwt", "not a well-formed JWT"),
        ("two segments", lambda: f"{head}.{body}", "not a well-formed JWT"),
        ("JWE", lambda: f"{head}.{body}.{sig}.e30.e30", "not a well-formed JWT"),
        ("padding", lambda: f"{head}.{body}.{sig}==", "not a well-formed JWT"),
        ("whitespace", lambda: f" {good}", "not a well-formed JWT"),
        ("no signature", lambda: f"{head}.{body}.", "not a well-formed JWT"),
        ("header not JSON", lambda: f"{b64(b'{oops')}.{body}.{sig}", "not a well-formed JWT"),
        ("header a list", lambda: f"{b64(b'[1]')}.{body}.{sig}", "not a well-formed JWT"),
        (
            "duplicate header member",
            lambda: f"{b64(DUPLICATE_MEMBER)}.{body}.{sig}",
            "not a well-formed JWT",
        ),
        ("too large", lambda: proof(padding="x" * 9000), "not a well-formed JWT"),
        ("no typ", lambda: proof(headers={"typ": None}), '"typ" is not "dpop+jwt"'),
        ("typ JWT", lambda: proof(headers={"typ": "JWT"}), '"typ" is not "dpop+jwt"'),
        ("typ at+jwt", lambda: proof(headers={"typ": "at+jwt"}), '"typ" is not "dpop+jwt"'),
        ("typ not a string", lambda: forge(good, header={**unsigned_header, "typ": 1}), '"typ"'),
        ("alg none", lambda: forge(good, header={**unsigned_header, "alg": "none"}), "algorithm"),
        ("alg HS256", lambda: forge(good, header={**unsigned_header, "alg": "HS256"}), "algorithm"),
        ("alg not allowed", lambda: proof(SIGNERS["ES384"]), "algorithm"),
        ("alg missing", lambda: forge(good, header={**unsigned_header, "alg": None}), "algorithm"),
        ("crit", lambda: proof(headers={"crit": ["exp"], "exp": 1}), "not a well-formed JWT"),
        ("no jwk", lambda: proof(headers={"jwk": None}), 'lacks a valid public "jwk"'),
        ("jwk a string", lambda: proof(headers={"jwk": "key"}), 'lacks a valid public "jwk"'),
        (
            "jwk not a key",
            lambda: proof(headers={"jwk": {**KEY.jwk, "x": 7}}),
            'lacks a valid public "jwk"',
        ),
        ("jwk private", lambda: proof(headers={"jwk": {**KEY.jwk, "d": "AA"}}), "private key"),
        ("jwk private RSA", lambda: proof(headers={"jwk": {**KEY.jwk, "p": "AA"}}), "private key"),
        ("jwk of another key", lambda: proof(headers={"jwk": OTHER.jwk}), "not bound to"),
        ("signed by another key", lambda: proof(OTHER, headers={"jwk": KEY.jwk}), "signature"),
        ("signature altered", lambda: forge(good, signature=b"\x01" * 64), "signature"),
        ("signature short", lambda: forge(good, signature=b"\x01" * 63), "signature"),
        ("payload not JSON", lambda: KEY.sign(unsigned_header, b"{oops"), "not a well-formed JWT"),
        ("payload a list", lambda: KEY.sign(unsigned_header, b"[]"), "not a well-formed JWT"),
        ("no htm", lambda: proof_without("htm"), '"htm"'),
        ("htm GET", lambda: proof(htm="GET"), '"htm"'),
        ("htm lower case", lambda: proof(htm="post"), '"htm"'),
        ("no htu", lambda: proof_without("htu"), '"htu"'),
        ("htu not a string", lambda: proof(htu=["https://api.example.com/orders"]), '"htu"'),
        ("htu relative", lambda: proof(htu="/orders"), '"htu"'),
        ("htu other path", lambda: proof(htu="https://api.example.com/orders/1"), '"htu"'),
        ("htu path case", lambda: proof(htu="https://api.example.com/Orders"), '"htu"'),
        ("htu other host", lambda: proof(htu="https://evil.example.com/orders"), '"htu"'),
        ("htu other scheme", lambda: proof(htu="http://api.example.com/orders"), '"htu"'),
        ("htu other port", lambda: proof(htu="https://api.example.com:8443/orders"), '"htu"'),
        ("htu userinfo", lambda: proof(htu="https://me@api.example.com/orders"), '"htu"'),
        ("htu bad port", lambda: proof(htu="https://api.example.com:99999/orders"), '"htu"'),
        ("no iat", lambda: proof_without("iat"), '"iat"'),
        ("iat a string", lambda: proof(iat=str(int(NOW))), '"iat"'),
        ("iat true", lambda: proof(iat=True), '"iat"'),
        ("iat too old", lambda: proof(iat=NOW - 300.5), "too old"),
        ("iat in the future", lambda: proof(iat=NOW + 5.5), "too old, or issued in the future"),
        ("no ath", lambda: proof_without("ath"), '"ath"'),
        ("ath of another token", lambda: proof(ath=ath(RAW + "x")), '"ath"'),
        ("ath not encoded", lambda: proof(ath=hashlib.sha256(RAW.encode()).hexdigest()), '"ath"'),
        ("no jti", lambda: proof_without("jti"), '"jti"'),
        ("jti empty", lambda: proof(jti=""), '"jti"'),
        ("jti a number", lambda: proof(jti=7), '"jti"'),
    ]


REFUSALS = _refusals()


@pytest.mark.parametrize(
    ("build", "says"), [(b, s) for _, b, s in REFUSALS], ids=[n for n, _, _ in REFUSALS]
)
def test_each_check_refuses_on_its_own(drive: Drive, build: Callable[[], str], says: str) -> None:
    with pytest.raises(InvalidDPoPProof, match=re.escape(says)) as refused:
        check(drive, build())
    assert refused.value.error == "invalid_dpop_proof"
    assert refused.value.status_code == 401


@pytest.mark.parametrize(
    "jwk",
    [
        {**KEY.jwk, "y": KEY.jwk["x"]},  # not a point of the curve
        {**KEY.jwk, "crv": "P-384"},  # a P-256 point named as P-384
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},  # 17 bits of RSA
        {**KEY.jwk, "use": "enc"},  # the key says it is not for signatures
    ],
    ids=["off the curve", "wrong curve", "RSA too small", "use enc"],
)
def test_a_bound_jwk_that_cannot_verify_the_proof_is_refused(
    drive: Drive, jwk: dict[str, Any]
) -> None:
    """A token may be bound to a bad key: its thumbprint matches, then the import refuses it."""
    bound = {"cnf": {"jkt": jwk_thumbprint(jwk)}}
    with pytest.raises(InvalidDPoPProof, match='lacks a valid public "jwk"'):
        check(drive, proof(headers={"jwk": jwk}), claims=bound)


def test_each_refusal_keeps_the_jti_unused(drive: Drive) -> None:
    """A refused proof never consumes its `jti`: the honest proof with that jti still passes."""
    cache = MemoryReplayCache()
    dpop = DPoP(replay_cache=cache)
    for name, build, _ in REFUSALS:
        with pytest.raises(InvalidDPoPProof):
            check(drive, build(), dpop=dpop)
        assert len(cache) == 0, name
    check(drive, proof(jti="shared"), dpop=dpop)
    assert len(cache) == 1


@pytest.mark.parametrize(
    "refused",
    [
        {"htm": "GET"},
        {"htu": "https://api.example.com/other"},
        {"iat": NOW - 301},
        {"ath": "x"},
    ],
)
def test_a_refused_proof_does_not_burn_its_jti(drive: Drive, refused: dict[str, Any]) -> None:
    dpop = DPoP()
    with pytest.raises(InvalidDPoPProof):
        check(drive, proof(jti="once", **refused), dpop=dpop)
    check(drive, proof(jti="once"), dpop=dpop)


def test_a_certificate_refusal_does_not_burn_the_jti(drive: Drive) -> None:
    dpop = DPoP()
    both = {"cnf": {**KEY.cnf, "x5t#S256": certificate_thumbprint(CERTIFICATE)}}
    with pytest.raises(InvalidToken, match="client certificate"):
        check(drive, proof(jti="once"), claims=both, dpop=dpop, certificate=OTHER_CERTIFICATE)
    check(drive, proof(jti="once"), claims=both, dpop=dpop, certificate=CERTIFICATE)


def test_the_challenge_lists_the_configured_algorithms(drive: Drive) -> None:
    with pytest.raises(InvalidDPoPProof) as refused:
        check(drive, proof(htm="GET"), dpop=DPoP(algorithms=("ES256", "EdDSA")))
    header = refused.value.www_authenticate(realm="api")
    assert header == (
        'DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof\'s '
        '\\"htm\\" claim does not match the request method.", algs="ES256 EdDSA"'
    )


def test_a_dpop_challenge_without_an_error_invites_dpop() -> None:
    """For a service that takes DPoP, beside its Bearer challenge (RFC 9449 §7.2)."""
    assert DPoP().challenge() == 'DPoP algs="ES256 RS256 PS256 EdDSA"'
    assert (
        DPoP(algorithms="EdDSA").challenge(realm='a"\r\nb') == 'DPoP realm="a\\"??b", algs="EdDSA"'
    )


def test_descriptions_never_echo_the_proof(drive: Drive) -> None:
    marker = "MARKER-in-the-proof"
    for refused in ({"htm": marker}, {"htu": f"https://{marker}/"}, {"jti": 1, "x": marker}):
        with pytest.raises(InvalidDPoPProof) as caught:
            check(drive, proof(**refused))
        assert marker not in caught.value.www_authenticate()


# -- replay ----------------------------------------------------------------------------------


def test_a_proof_is_accepted_once(drive: Drive) -> None:
    dpop, once = DPoP(), proof(jti="j1")
    check(drive, once, dpop=dpop)
    with pytest.raises(InvalidDPoPProof, match="used before"):
        check(drive, once, dpop=dpop)
    with pytest.raises(InvalidDPoPProof, match="used before"):  # the same jti, another proof
        check(drive, proof(jti="j1", iat=NOW - 1), dpop=dpop)
    check(drive, proof(jti="j2"), dpop=dpop)  # a new jti is a new proof


def test_a_replay_after_the_window_is_refused_by_its_age(drive: Drive) -> None:
    clock = [0.0]
    dpop = DPoP(replay_cache=MemoryReplayCache(clock=lambda: clock[0]))
    once = proof()
    check(drive, once, dpop=dpop)
    clock[0] += 300 + 5 + 0.001  # the cache has forgotten the jti...
    with pytest.raises(InvalidDPoPProof, match="too old"):  # ...but the proof is too old
        check(drive, once, dpop=dpop, now=NOW + 300 + 5 + 0.001)


def test_the_jti_is_remembered_for_max_age_plus_leeway(drive: Drive) -> None:
    seen: list[tuple[str, float]] = []

    class Recording(MemoryReplayCache):
        def first_use(self, key: str, ttl: float) -> bool:
            seen.append((key, ttl))
            return super().first_use(key, ttl)

    dpop = DPoP(max_age=60, leeway=2, replay_cache=Recording())
    check(drive, proof(jti="a"), dpop=dpop)
    check(drive, proof(jti="j" * 64), dpop=dpop)
    check(drive, proof(jti="j" * 65), dpop=dpop)
    (short, ttl), (longest_kept, _), (hashed, _) = seen
    assert ttl == 62
    # The key names the client's key, then the jti: kept as it is up to 64 characters,
    # hashed beyond, so that no key is longer than 108 characters.
    assert short == f"{KEY.jkt}:a"
    assert longest_kept == f"{KEY.jkt}:{'j' * 64}"
    assert len(hashed) == 43
    assert ":" not in hashed


def test_a_long_jti_is_replayed_like_a_short_one(drive: Drive) -> None:
    dpop = DPoP()
    once = proof(jti="j" * 500)
    check(drive, once, dpop=dpop)
    with pytest.raises(InvalidDPoPProof, match="used before"):
        check(drive, once, dpop=dpop)


def test_one_jti_under_two_keys_is_two_proofs(drive: Drive) -> None:
    dpop = DPoP()
    check(drive, proof(jti="same"), dpop=dpop)
    check(drive, proof(OTHER, jti="same"), claims={"cnf": OTHER.cnf}, dpop=dpop)


def test_a_replay_cache_that_cannot_record_refuses_with_503(drive: Drive) -> None:
    dpop = DPoP(replay_cache=MemoryReplayCache(max_entries=1))
    check(drive, proof(), dpop=dpop)
    with pytest.raises(RevocationUnavailable) as unavailable:
        check(drive, proof(), dpop=dpop)
    assert unavailable.value.status_code == 503


# -- downgrades and the scheme ---------------------------------------------------------------


@pytest.mark.parametrize("scheme", [BEARER, None, "Basic"])
def test_a_bound_token_without_the_dpop_scheme_is_refused(drive: Drive, scheme: str | None) -> None:
    with pytest.raises(InvalidToken, match="must be sent with the DPoP scheme") as refused:
        check(drive, proof(), scheme=scheme)
    assert type(refused.value) is InvalidToken  # the Bearer challenge, invalid_token


def test_a_bound_token_without_a_proof_is_refused(drive: Drive) -> None:
    with pytest.raises(InvalidDPoPProof, match="lacks the DPoP proof"):
        check(drive, None)
    with pytest.raises(InvalidDPoPProof, match="lacks the DPoP proof"):
        drive(check_binding(CLAIMS, RAW, DPOP, None, DPoP(), NOW))


def test_a_bound_token_is_refused_by_a_verifier_without_dpop(drive: Drive) -> None:
    with pytest.raises(InvalidToken, match="does not accept DPoP"):
        drive(check_binding(CLAIMS, RAW, DPOP, RequestContext("POST", URL, proof()), None, NOW))


def test_the_dpop_scheme_needs_a_bound_token(drive: Drive) -> None:
    for dpop in (DPoP(), None):
        with pytest.raises(InvalidToken, match="needs a DPoP-bound access token"):
            drive(
                check_binding(
                    {"sub": "u"}, RAW, DPOP, RequestContext("POST", URL, proof()), dpop, NOW
                )
            )


def test_required_dpop_refuses_unbound_tokens(drive: Drive) -> None:
    with pytest.raises(InvalidToken, match="only DPoP-bound"):
        drive(check_binding({"sub": "u"}, RAW, BEARER, None, DPoP(required=True), NOW))
    check(drive, proof(), dpop=DPoP(required=True))


@pytest.mark.parametrize("dpop", [None, DPoP()])
@pytest.mark.parametrize("scheme", [BEARER, None])
def test_unbound_tokens_stay_bearer_tokens(
    drive: Drive, dpop: DPoP | None, scheme: str | None
) -> None:
    stray = RequestContext("POST", URL, "a stray proof is not looked at")
    for request in (None, stray):
        drive(check_binding({"sub": "u", "cnf": {}}, RAW, scheme, request, dpop, NOW))
        assert not binding_needed({"sub": "u"}, scheme, dpop)


def test_binding_needed_says_when_the_flow_has_work() -> None:
    assert binding_needed({"cnf": {}}, BEARER, None)
    assert binding_needed({}, DPOP, None)
    assert binding_needed({}, BEARER, DPoP(required=True))
    assert not binding_needed({}, None, DPoP())


@pytest.mark.parametrize(
    ("cnf", "says"),
    [
        ("jkt", '"cnf" claim must be an object'),
        (None, '"cnf" claim must be an object'),
        ({"jkt": KEY.jkt, "jwk": KEY.jwk}, "method this service does not support"),
        ({"kid": "k"}, "method this service does not support"),
        ({"jkt": ""}, 'invalid "jkt"'),
        ({"jkt": 1}, 'invalid "jkt"'),
        ({"x5t#S256": None}, 'invalid "x5t#S256"'),
    ],
)
def test_a_cnf_claim_that_cannot_be_honoured_is_refused(
    drive: Drive, cnf: object, says: str
) -> None:
    with pytest.raises(InvalidClaim, match=says):
        check(drive, proof(), claims={"cnf": cnf})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abc", (BEARER, "abc")),
        ("bEARER abc", (BEARER, "abc")),
        ("DPoP abc", (DPOP, "abc")),
        ("dpop abc", (DPOP, "abc")),
        ("abc", (None, "abc")),
        ("DPoPabc", (None, "DPoPabc")),
        ("Basic abc", (None, "Basic abc")),
    ],
)
def test_split_scheme_reads_both_schemes(text: str, expected: tuple[str | None, str]) -> None:
    assert split_scheme(text) == expected
    assert split_scheme(text.encode()) == (expected[0], expected[1].encode())


# -- RFC 8705: certificate-bound tokens ------------------------------------------------------


def _certificate(name: str) -> bytes:
    return self_signed(ec.generate_private_key(ec.SECP256R1()), name).public_bytes(
        serialization.Encoding.DER
    )


CERTIFICATE = _certificate("client")
OTHER_CERTIFICATE = _certificate("other")
BOUND_TO_CERTIFICATE = {"sub": "client", "cnf": {"x5t#S256": certificate_thumbprint(CERTIFICATE)}}


def test_certificate_thumbprint_is_base64url_sha256_of_the_der() -> None:
    digest = x509.load_der_x509_certificate(CERTIFICATE).fingerprint(hashes.SHA256())
    assert certificate_thumbprint(CERTIFICATE) == b64(digest)


@pytest.mark.parametrize("scheme", [BEARER, None])
def test_a_certificate_bound_token_needs_its_certificate(drive: Drive, scheme: str | None) -> None:
    def bound(certificate: bytes | None) -> None:
        request = RequestContext("GET", URL, None, certificate)
        drive(check_binding(BOUND_TO_CERTIFICATE, RAW, scheme, request, None, NOW))

    bound(CERTIFICATE)
    with pytest.raises(InvalidToken, match="bound to another client certificate"):
        bound(OTHER_CERTIFICATE)
    with pytest.raises(InvalidToken, match="none was presented"):
        bound(None)
    with pytest.raises(InvalidToken, match="none was presented"):
        drive(check_binding(BOUND_TO_CERTIFICATE, RAW, scheme, None, None, NOW))


def test_a_token_bound_both_ways_needs_both(drive: Drive) -> None:
    both = {"cnf": {**KEY.cnf, "x5t#S256": certificate_thumbprint(CERTIFICATE)}}
    check(drive, proof(), claims=both, certificate=CERTIFICATE)
    with pytest.raises(InvalidToken, match="none was presented"):
        check(drive, proof(), claims=both)
    with pytest.raises(InvalidDPoPProof):
        check(drive, proof(htm="GET"), claims=both, certificate=CERTIFICATE)


# -- options -----------------------------------------------------------------------------------


def test_dpop_defaults() -> None:
    dpop = DPoP()
    assert dpop.required is False
    assert dpop.algorithms == ("ES256", "RS256", "PS256", "EdDSA")
    assert (dpop.max_age, dpop.leeway) == (300, 5)
    assert isinstance(dpop.replay_cache, MemoryReplayCache)
    assert dpop.replay_cache is not DPoP().replay_cache  # each owns its cache
    assert accesstoken.DPoP is DPoP
    assert accesstoken.RequestContext is RequestContext


def test_dpop_keeps_the_order_of_algorithms_once_each() -> None:
    assert DPoP(algorithms=("EdDSA", "ES256", "EdDSA")).algorithms == ("EdDSA", "ES256")
    assert DPoP(algorithms="PS256").algorithms == ("PS256",)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"algorithms": ("HS256",)}, ValueError),
        ({"algorithms": ("none",)}, ValueError),
        ({"algorithms": ("ES256", "XS1")}, ValueError),
        ({"algorithms": ()}, ValueError),
        ({"algorithms": None}, TypeError),
        ({"algorithms": (b"ES256",)}, TypeError),
        ({"required": 1}, TypeError),
        ({"max_age": 0}, ValueError),
        ({"max_age": float("inf")}, ValueError),
        ({"max_age": "300"}, TypeError),
        ({"leeway": -1}, ValueError),
        ({"leeway": True}, TypeError),
        ({"replay_cache": object()}, TypeError),
    ],
)
def test_dpop_options_are_checked_at_construction(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        DPoP(**options)


def test_request_context_checks_types_and_hides_what_it_carries() -> None:
    request = RequestContext("GET", URL, proof(), CERTIFICATE)
    assert "..." in repr(request)
    assert proof().split(".")[0] not in repr(request)
    with pytest.raises(TypeError):
        RequestContext("GET", URL, client_certificate="PEM text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RequestContext("GET", URL, dpop_proof=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RequestContext(b"GET", URL)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        request.url = "https://elsewhere/"  # type: ignore[misc]


# -- the memo of checked proof headers -------------------------------------------------------


def test_a_clients_key_is_imported_once_for_its_proofs(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports: list[object] = []
    real = VerificationKey.from_jwk.__func__  # type: ignore[attr-defined]

    def counting(cls: type[VerificationKey], jwk: Any, **options: Any) -> VerificationKey:
        imports.append(jwk)
        key: VerificationKey = real(cls, jwk, **options)
        return key

    monkeypatch.setattr(VerificationKey, "from_jwk", classmethod(counting))
    dpop = DPoP()
    for _ in range(3):
        check(drive, proof(), dpop=dpop)
    assert len(imports) == 1
    check(drive, proof(OTHER), claims={"cnf": OTHER.cnf}, dpop=dpop)
    assert len(imports) == 2
    check(drive, proof(), dpop=DPoP())  # another DPoP object, another memo
    assert len(imports) == 3


def test_a_remembered_header_still_needs_the_tokens_key(drive: Drive) -> None:
    """The memo keeps a header's key, never the binding: each token's jkt is compared again."""
    dpop = DPoP()
    check(drive, proof(), dpop=dpop)  # KEY's header is remembered
    with pytest.raises(InvalidDPoPProof, match="not bound to"):
        check(drive, proof(), claims={"cnf": OTHER.cnf}, dpop=dpop)
    with pytest.raises(InvalidDPoPProof, match="signature"):  # KEY's header, OTHER's signature
        check(drive, proof(OTHER, headers={"jwk": KEY.jwk}), dpop=dpop)


def test_refused_headers_are_not_remembered_and_the_memo_is_bounded(drive: Drive) -> None:
    dpop = DPoP()
    with pytest.raises(InvalidDPoPProof):
        check(drive, proof(OTHER), dpop=dpop)  # a key the token is not bound to
    with pytest.raises(InvalidDPoPProof):
        check(drive, proof(headers={"typ": "JWT"}), dpop=dpop)
    assert len(dpop._headers) == 0
    for number in range(300):  # headers that differ by a member the checks ignore
        check(drive, proof(headers={"kid": str(number)}), dpop=dpop)
        assert 1 <= len(dpop._headers) <= 256


def test_a_user_replay_cache_is_asked_last(drive: Drive) -> None:
    asked: list[str] = []

    class Cache:
        def first_use(self, key: str, ttl: float) -> bool:
            asked.append("sync")
            return True

        async def first_use_async(self, key: str, ttl: float) -> bool:
            asked.append("async")
            return True

    check(drive, proof(), dpop=DPoP(replay_cache=Cache()))
    assert len(asked) == 1
    with pytest.raises(InvalidDPoPProof):
        check(drive, proof(htm="GET"), dpop=DPoP(replay_cache=Cache()))
    assert len(asked) == 1
