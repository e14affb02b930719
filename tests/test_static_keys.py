"""Static key sources: everything is checked when they are built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accesstoken import HMACSecret, StaticKeys, TokenVerifier, UnknownKey
from tests.conftest import (
    AUDIENCE,
    ISSUER,
    NOW,
    Verify,
    mint,
    public_jwks,
    self_signed,
    signing_key,
)


def verifier(keys: StaticKeys) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW)


def _pem(alg: str, *, private: bool = False) -> bytes:
    return signing_key(alg).as_pem(private=private)  # type: ignore[union-attr]


def test_public_and_private_pem(verify: Verify) -> None:
    verify(verifier(StaticKeys.from_pem(_pem("RS256"))), mint("RS256", header={"kid": None}))
    verify(verifier(StaticKeys.from_pem(_pem("ES256"), kid="kid-ES256")), mint("ES256"))
    verify(verifier(StaticKeys.from_pem(_pem("EdDSA", private=True).decode())), mint("EdDSA"))


def test_pem_algorithm_narrows_the_key(verify: Verify) -> None:
    keys = StaticKeys.from_pem(_pem("RS256"), algorithm="PS256")
    assert keys.key_set().algorithms == {"PS256"}
    with pytest.raises(ValueError, match="cannot verify"):
        StaticKeys.from_pem(_pem("RS256"), algorithm="ES256")
    with pytest.raises(ValueError, match="unsupported"):
        StaticKeys.from_pem(_pem("RS256"), algorithm="none")


def test_certificate_pem(verify: Verify) -> None:
    key = signing_key("ES256")
    private = serialization.load_pem_private_key(key.as_pem(private=True), None)  # type: ignore[union-attr]
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    cert = self_signed(private, "issuer.test", days=3650)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    verify(verifier(StaticKeys.from_pem(pem)), mint("ES256"))


@pytest.mark.parametrize(
    "bad", [b"", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "x"]
)
def test_bad_pem(bad: bytes | str) -> None:
    with pytest.raises(ValueError, match="PEM"):
        StaticKeys.from_pem(bad)


def test_jwks_as_text_and_from_files(tmp_path: Path, verify: Verify) -> None:
    text = json.dumps(public_jwks("RS256", "ES256"))
    verify(verifier(StaticKeys.from_jwks(text)), mint("ES256"))
    (tmp_path / "set.json").write_text(text)
    (tmp_path / "one.json").write_text(json.dumps(public_jwks("ES256")["keys"][0]))
    (tmp_path / "key.pem").write_bytes(_pem("RS256"))
    verify(verifier(StaticKeys.from_file(tmp_path / "set.json")), mint("RS256"))
    verify(verifier(StaticKeys.from_file(tmp_path / "one.json")), mint("ES256"))
    verify(verifier(StaticKeys.from_file(str(tmp_path / "key.pem"))), mint("RS256"))


@pytest.mark.parametrize(
    "jwks",
    [
        '{"keys": [], "keys": []}',
        "[]",
        "{}",
        '{"keys": {}}',
        '{"keys": [{"kty": "RSA", "n": "AQAB"}]}',
        '{"keys": [{"kty": "XYZ"}]}',
        '{"keys": [{"kty": "RSA", "e": "AQAB", "n": "x", "kid": 5}]}',
    ],
)
def test_bad_jwks(jwks: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        StaticKeys.from_jwks(jwks)


@pytest.mark.parametrize(
    "jwks",
    [{"keys": []}, {"keys": [{**public_jwks("RS256")["keys"][0], "use": "enc"}]}],
)
def test_a_set_without_usable_keys_refuses_every_token(
    jwks: dict[str, object], verify: Verify
) -> None:
    with pytest.raises(UnknownKey):
        verify(verifier(StaticKeys.from_jwks(jwks)), mint("RS256"))


def test_a_short_secret_in_a_jwks_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        StaticKeys.from_jwks('{"keys": [{"kty": "oct", "k": "c2hvcnQ"}]}')


@pytest.mark.parametrize("length", [0, 16, 31])
def test_short_hmac_secrets_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        HMACSecret(b"x" * length)


def test_hmac_secret_lengths_decide_the_algorithms() -> None:
    assert HMACSecret("x" * 32).key_set().algorithms == {"HS256"}
    assert HMACSecret(b"x" * 48).key_set().algorithms == {"HS256", "HS384"}
    assert HMACSecret(b"x" * 64).key_set().algorithms == {"HS256", "HS384", "HS512"}
    assert "x" * 32 not in repr(HMACSecret("x" * 32))
