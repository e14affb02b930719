"""The attack catalogue: one test per known way of getting a forged token accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from accesstoken import (
    DisallowedAlgorithm,
    HMACSecret,
    InvalidAudience,
    InvalidClaim,
    InvalidSignature,
    InvalidToken,
    KeySet,
    KeySource,
    MalformedToken,
    StaticKeys,
    TokenVerifier,
    UnknownKey,
    VerificationKey,
)
from tests.conftest import (
    AUDIENCE,
    ISSUER,
    NOW,
    Verify,
    b64,
    claims,
    forge,
    make_verifier,
    mint,
    public_jwks,
    signing_key,
)


def sign_hs256(
    secret: bytes, header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes
) -> str:
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(head)}.{b64(body)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


# -- alg: none ---------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"x"])
def test_alg_none_in_any_spelling(alg: str, signature: bytes, verify: Verify) -> None:
    token = forge({"alg": alg, "kid": "kid-RS256"}, claims(), signature)
    with pytest.raises(DisallowedAlgorithm):
        verify(make_verifier(), token)


def test_alg_none_is_refused_even_with_every_algorithm_allowed(verify: Verify) -> None:
    token = forge({"alg": "none"}, claims(), b"")
    with pytest.raises(DisallowedAlgorithm):
        verify(make_verifier("HS256", "RS256", "ES256", algorithms=None), token)


# -- key confusion ------------------------------------------------------------------------


def _rsa_public_pem() -> bytes:
    key = signing_key("RS256")
    assert isinstance(key, RSAKey)
    return key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_hs256_signed_with_the_rsa_public_key(verify: Verify) -> None:
    # The classic: the attacker uses the published RSA key bytes as an HMAC secret.
    pem = _rsa_public_pem()
    verifier = TokenVerifier(
        StaticKeys.from_pem(pem), issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW
    )
    token = sign_hs256(pem, {"alg": "HS256"}, claims())
    with pytest.raises(UnknownKey):
        verify(verifier, token)
    pinned = TokenVerifier(
        StaticKeys.from_pem(pem),
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["RS256"],
        clock=lambda: NOW,
    )
    with pytest.raises(DisallowedAlgorithm):
        verify(pinned, token)


def test_hs256_with_the_rsa_jwk_members_as_secret(verify: Verify) -> None:
    jwks = public_jwks("RS256")
    token = sign_hs256(json.dumps(jwks["keys"][0]).encode(), {"alg": "HS256"}, claims())
    with pytest.raises(UnknownKey):
        verify(make_verifier("RS256"), token)


def test_ecdsa_token_against_an_rsa_key(verify: Verify) -> None:
    token = mint("ES256", header={"kid": "kid-RS256"})
    with pytest.raises(UnknownKey):
        verify(make_verifier("RS256"), token)


def test_es256_token_against_a_p384_key(verify: Verify) -> None:
    token = mint("ES256", header={"kid": "kid-ES384"})
    with pytest.raises(UnknownKey):
        verify(make_verifier("ES384"), token)


# -- keys from the header ------------------------------------------------------------------


def test_embedded_jwk_is_not_used(verify: Verify) -> None:
    attacker = RSAKey.generate_key(2048)
    header = {"alg": "RS256", "jwk": attacker.as_dict(private=False)}
    token = mint("RS256", header={**header, "kid": None}, key=attacker)
    with pytest.raises(InvalidSignature):
        verify(make_verifier("RS256"), token)


class CountingSource(KeySource):
    def __init__(self, inner: KeySource) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def key_set(self) -> KeySet:
        self.calls.append("key_set")
        return self.inner.key_set()

    def refresh(self) -> KeySet | None:
        self.calls.append("refresh")
        return None


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_jku_and_x5u_are_never_followed(member: str, verify: Verify) -> None:
    attacker = RSAKey.generate_key(2048)
    source = CountingSource(StaticKeys.from_jwks(public_jwks("RS256")))
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW)
    token = mint(
        "RS256",
        header={member: "http://127.0.0.1:9/attacker.json", "kid": "kid-RS256"},
        key=attacker,
    )
    with pytest.raises(InvalidSignature):
        verify(verifier, token)
    assert source.calls == ["key_set"]


def test_x5c_certificate_in_header_is_not_used(verify: Verify) -> None:
    token = mint("RS256", header={"x5c": ["MIIB"], "kid": None}, key=RSAKey.generate_key(2048))
    with pytest.raises(InvalidSignature):
        verify(make_verifier("RS256"), token)


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../dev/null",
        "' OR '1'='1",
        "kid-RS256\x00",
        "kid-RS256 ",
        "KID-RS256",
        "x" * 4000,
        "__proto__",
        "",
    ],
)
def test_kid_tricks_select_no_key(kid: str, verify: Verify) -> None:
    with pytest.raises(UnknownKey):
        verify(make_verifier("RS256", "ES256"), mint("RS256", header={"kid": kid}))


@pytest.mark.parametrize("kid", [1, ["kid-RS256"], {"a": 1}, None])
def test_kid_that_is_not_a_string(kid: Any, verify: Verify) -> None:
    token = forge({"alg": "RS256", "kid": kid}, claims(), b"sig")
    with pytest.raises(MalformedToken):
        verify(make_verifier(), token)


def test_forged_kids_are_not_remembered() -> None:
    verifier = make_verifier("RS256")
    key_set = StaticKeys.from_jwks(public_jwks("RS256")).key_set()
    for n in range(1000):
        with pytest.raises(UnknownKey):
            verifier.verify(mint("RS256", header={"kid": f"forged-{n}"}))
        key_set.select(f"forged-{n}", "RS256")
    assert len(key_set._chosen) == 0


# -- header extensions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": ["b64"], "b64": False},
        {"b64": False},
        {"crit": []},
        {"crit": "x"},
        {"enc": "A128GCM"},
        {"zip": "DEF"},
    ],
)
def test_unsupported_header_parameters(extra: dict[str, Any], verify: Verify) -> None:
    with pytest.raises(MalformedToken):
        verify(make_verifier(), mint("RS256", header=extra))


def test_unknown_non_critical_header_parameters_are_ignored(verify: Verify) -> None:
    # Azure AD sends "nonce" and "x5t"; a verifier must not choke on them.
    token = verify(make_verifier(), mint("RS256", header={"nonce": "n", "x5t": "t"}))
    assert token.header["nonce"] == "n"


# -- structure ------------------------------------------------------------------------------


def test_stripped_signature(verify: Verify) -> None:
    head, body, _ = mint().split(".")
    with pytest.raises(InvalidSignature):
        verify(make_verifier(), f"{head}.{body}.")
    with pytest.raises(MalformedToken):
        verify(make_verifier(), f"{head}.{body}")


def test_jwe_is_refused(verify: Verify) -> None:
    jwe = (
        "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ"
        "."
        "OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbW"
        "SrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rz"
        "VRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLB"
        "IO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi"
        "6UklfCpIMfIjf7iGdXKHzg"
        "."
        "48V1_ALb6US04U3b"
        "."
        "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBt"
        "QD_A"
        "."
        "XFBoMYUZodetZdvTiFvSkQ"
    )
    with pytest.raises(MalformedToken) as info:
        verify(make_verifier(), jwe)
    assert "JWE" in info.value.description


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "=",
        lambda t: t.replace(".", "=.", 1),
        lambda t: t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else t + "+",
        lambda t: " " + t,
        lambda t: t + "\n",
        lambda t: t.replace(".", " .", 1),
        lambda t: t.replace(".", "..", 1),
        lambda t: "." + t,
        lambda t: t + ".",
        lambda t: "Bearer  " + t,
        lambda t: "Basic " + t,
    ],
)
def test_bad_base64url_and_whitespace(mangle: Any, verify: Verify) -> None:
    with pytest.raises(MalformedToken):
        verify(make_verifier(), mangle(mint()))


def test_non_zero_trailing_bits(verify: Verify) -> None:
    # "e30" is "{}"; "e31" decodes to the same byte but with bits set that must be zero.
    head, body, sig = mint("HS256").split(".")
    last = sig[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) + 1]  # same leading bits, one trailing bit set
    assert base64.urlsafe_b64decode(sig[:-1] + sibling + "=") == base64.urlsafe_b64decode(sig + "=")
    with pytest.raises(MalformedToken):
        verify(make_verifier("HS256"), f"{head}.{body}.{sig[:-1]}{sibling}")


@pytest.mark.parametrize(
    "header",
    [
        b"\xff\xfe{}",
        b'{"alg":"RS256"',
        b"[]",
        b'"RS256"',
        b"\xef\xbb\xbf{}",
        b"{'alg':'RS256'}",
        b'{"alg":"RS256","alg":"none"}',
        b'{"alg":"\xc3\x28"}',
        b'{"alg": 256}',
        b"{}",
    ],
)
def test_bad_headers(header: bytes, verify: Verify) -> None:
    with pytest.raises(MalformedToken):
        verify(make_verifier(), forge(header, claims(), b"sig"))


def test_non_ascii_input(verify: Verify) -> None:
    raw = mint()
    with pytest.raises(MalformedToken):
        verify(make_verifier(), raw[:10] + "é" + raw[11:])
    with pytest.raises(MalformedToken):
        verify(make_verifier(), raw.encode()[:10] + b"\xe9" + raw.encode()[11:])


# -- payloads behind a valid signature -------------------------------------------------------

SECRET = b"k" * 32


def hs_verifier(**options: Any) -> TokenVerifier:
    options.setdefault("clock", lambda: NOW)
    return TokenVerifier(HMACSecret(SECRET), issuer=ISSUER, audience=AUDIENCE, **options)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"user","sub":"admin","iss":"https://issuer.test/","aud":"orders-api",'
        b'"exp":1700000300}',
        b'{"aud":"x","aud":"orders-api","iss":"https://issuer.test/","exp":1700000300}',
        b'{"iss":"https://issuer.test/","aud":"orders-api","exp":NaN}',
        b'{"iss":"https://issuer.test/","aud":"orders-api","exp":Infinity}',
        b'{"iss":"https://issuer.test/","aud":"orders-api","exp":1' + b"0" * 5000 + b"}",
        b"[1,2,3]",
        b"\xff\xff",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b"Payload",
    ],
)
def test_signed_but_malformed_payloads(payload: bytes, verify: Verify) -> None:
    token = sign_hs256(SECRET, {"alg": "HS256"}, payload)
    with pytest.raises(MalformedToken):
        verify(hs_verifier(max_token_bytes=1 << 20), token)


def test_overflowing_float_date(verify: Verify) -> None:
    payload = b'{"iss":"https://issuer.test/","aud":"orders-api","exp":1e400}'
    with pytest.raises(InvalidClaim):
        verify(hs_verifier(), sign_hs256(SECRET, {"alg": "HS256"}, payload))


def test_audience_substring_and_prefix_tricks(verify: Verify) -> None:
    for aud in ["orders-api.evil", "evil-orders-api", "orders-api/", ["orders-api-x"]]:
        token = sign_hs256(SECRET, {"alg": "HS256"}, claims(aud=aud))
        with pytest.raises(InvalidAudience):
            verify(hs_verifier(), token)


# -- signature tricks -------------------------------------------------------------------


def test_ecdsa_zero_signature(verify: Verify) -> None:
    head, body, _ = mint("ES256").split(".")
    for sig in (
        bytes(64),
        (1).to_bytes(32, "big") + bytes(32),
        bytes(32) + (1).to_bytes(32, "big"),
    ):
        with pytest.raises(InvalidSignature):
            verify(make_verifier("ES256"), f"{head}.{body}.{b64(sig)}")


def test_ecdsa_signature_equal_to_group_order(verify: Verify) -> None:
    # CVE-2022-21449 ("psychic signatures"): r = s = n must not verify.
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    head, body, _ = mint("ES256").split(".")
    sig = n.to_bytes(32, "big") * 2
    with pytest.raises(InvalidSignature):
        verify(make_verifier("ES256"), f"{head}.{body}.{b64(sig)}")


def test_ecdsa_der_signature_is_refused(verify: Verify) -> None:
    head, body, sig = mint("ES256").split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert decode_dss_signature(der)[0] == int.from_bytes(raw[:32], "big")
    with pytest.raises(InvalidSignature):
        verify(make_verifier("ES256"), f"{head}.{body}.{b64(der)}")


def test_rs256_signature_under_ps256_header(verify: Verify) -> None:
    _, body, sig = mint("RS256").split(".")
    ps_head = b64(json.dumps({"alg": "PS256", "kid": "kid-RS256"}).encode())
    with pytest.raises(InvalidSignature):
        verify(make_verifier("RS256"), f"{ps_head}.{body}.{sig}")


# Issue "Hardening against hostile servers, paths and re-encoded signatures", finding 5:
# OpenSSL verifies a PSS signature shorter than the modulus, so a signature whose first byte
# is zero also verified without it: a second encoding of the same token.
@pytest.mark.parametrize("alg", ["PS256", "PS384", "PS512", "RS256"])
def test_signature_without_its_leading_zero_byte(alg: str, verify: Verify) -> None:
    for n in range(4096):  # one signature in 256 starts with 0x00; 4096 tries all fail ~1e-7
        head, body, sig = mint(alg, claims(jti=f"jti-{n}")).split(".")
        signature = base64.urlsafe_b64decode(sig + "==")
        if signature[0] == 0:
            break
    else:
        raise AssertionError("no signature starting with a zero byte")
    assert len(signature) == 256  # RFC 8017 §8.1.2: k bytes, k the modulus size
    verifier = make_verifier(alg)
    assert verify(verifier, f"{head}.{body}.{sig}").claims["jti"] == f"jti-{n}"
    with pytest.raises(InvalidSignature):
        verify(verifier, f"{head}.{body}.{b64(signature[1:])}")


# The group orders n of P-256, P-384 and P-521 (SEC 2 §2.4).
_ORDERS = {
    "ES256": int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16),
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
        "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_high_s_twin_is_accepted_and_verified_in_full(alg: str, verify: Verify) -> None:
    # A decision, not an oversight (docs/security.md): (r, n - s) verifies whenever (r, s)
    # does, and many issuers do not normalise s, so both are accepted. The twin is another
    # raw token: with cache_size it misses the cache and is checked like any new token.
    head, body, sig = mint(alg).split(".")
    signature = base64.urlsafe_b64decode(sig + "==")
    size = len(signature) // 2
    s = int.from_bytes(signature[size:], "big")
    twin = f"{head}.{body}.{b64(signature[:size] + (_ORDERS[alg] - s).to_bytes(size, 'big'))}"
    assert twin != f"{head}.{body}.{sig}"
    verifier = make_verifier(alg, cache_size=8)
    first = verify(verifier, f"{head}.{body}.{sig}")
    second = verify(verifier, twin)
    assert second.claims == first.claims
    assert second.raw == twin
    assert len(verifier._cache or ()) == 2  # stored by a full verification, not a cache hit
    off_by_one = signature[:size] + (_ORDERS[alg] - s + 1).to_bytes(size, "big")
    with pytest.raises(InvalidSignature):
        verify(verifier, f"{head}.{body}.{b64(off_by_one)}")


@pytest.mark.parametrize(
    ("alg", "order"),
    [
        ("Ed25519", 2**252 + 27742317777372353535851937790883648493),
        ("Ed448", 2**446 - 13818066809895115352007386748515426880336692474882178609894547503885),
    ],
)
def test_eddsa_signature_with_s_plus_l_is_refused(alg: str, order: int, verify: Verify) -> None:
    # Unlike ECDSA, EdDSA has one valid S: OpenSSL refuses S >= L (RFC 8032 §5.1.7, §5.2.7).
    # S < L, so S + L still fits in the second half of the signature.
    head, body, sig = mint(alg).split(".")
    signature = base64.urlsafe_b64decode(sig + "==")
    size = len(signature) // 2
    s = int.from_bytes(signature[size:], "little") + order
    verifier = make_verifier(alg)
    verify(verifier, f"{head}.{body}.{sig}")
    with pytest.raises(InvalidSignature):
        verify(verifier, f"{head}.{body}.{b64(signature[:size] + s.to_bytes(size, 'little'))}")


def test_signature_from_another_token(verify: Verify) -> None:
    a = mint(payload=claims(sub="alice"))
    b = mint(payload=claims(sub="admin"))
    with pytest.raises(InvalidSignature):
        verify(make_verifier(), a.rsplit(".", 1)[0] + "." + b.rsplit(".", 1)[1])


# -- keys that must not be used ---------------------------------------------------------


@pytest.mark.parametrize(
    "restriction",
    [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"alg": "RS512"}, {"key_ops": "verify"}],
)
def test_jwk_restrictions_are_enforced(restriction: dict[str, Any], verify: Verify) -> None:
    jwk = {**public_jwks("RS256")["keys"][0], **restriction}
    ok = {**public_jwks("ES256")["keys"][0]}
    verifier = TokenVerifier(
        StaticKeys.from_jwks({"keys": [jwk, ok]}),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=lambda: NOW,
    )
    with pytest.raises(UnknownKey):
        verify(verifier, mint("RS256"))


def test_weak_rsa_keys_are_refused() -> None:
    weak = RSAKey.generate_key(1024)
    with pytest.raises(ValueError, match="cannot verify"):
        StaticKeys.from_pem(weak.as_pem(private=False))


# -- size ---------------------------------------------------------------------------------


def test_oversized_input_is_refused_before_parsing(verify: Verify) -> None:
    with pytest.raises(MalformedToken) as info:
        verify(make_verifier(max_token_bytes=100), "x" * 101)
    assert "too large" in info.value.description
    with pytest.raises(MalformedToken):
        verify(make_verifier(), b"\xff" * 100_000)


def test_every_refusal_is_an_invalid_token(verify: Verify) -> None:
    # Nothing in this catalogue may surface as anything but InvalidToken (401).
    for raw in ["", ".", "..", "a.b.c", mint()[:-1], JWSRegistry.algorithms["none"].name]:
        with pytest.raises(InvalidToken):
            verify(make_verifier(), raw)


def test_forged_kids_against_a_kidless_key_are_not_remembered(verify: Verify) -> None:
    # A key without kid serves tokens whatever kid they carry; the memo of key choices must
    # not grow with every made-up kid (memory exhaustion).
    secret = b"q" * 32
    key_set = KeySet([VerificationKey.from_public_key(secret)])
    for n in range(500):
        assert key_set.select(f"made-up-{n}", "HS256") is key_set.keys[0]
    assert len(key_set._chosen) == 0
    verifier = TokenVerifier(
        HMACSecret(secret), issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW
    )
    verify(verifier, sign_hs256(secret, {"alg": "HS256", "kid": "anything"}, claims()))
