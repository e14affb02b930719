"""The algorithm table: which keys each algorithm accepts, judged by its entry alone."""

from __future__ import annotations

import pytest

from accesstoken._algorithms import ALGORITHMS, min_key_bits
from accesstoken._keys.base import VerificationKey


@pytest.mark.parametrize(("alg", "smallest"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_an_hmac_secret_must_be_as_long_as_the_hash(alg: str, smallest: int) -> None:
    # RFC 7518 §3.2: a key of the same size as the hash output or larger.
    entry = ALGORITHMS[alg]
    assert entry.fits("oct", None, 8 * smallest)
    assert not entry.fits("oct", None, 8 * smallest - 8)


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_an_rsa_key_must_have_2048_bits(alg: str) -> None:
    entry = ALGORITHMS[alg]
    assert entry.fits("RSA", None, 2048)
    assert entry.fits("RSA", None, 4096)
    assert not entry.fits("RSA", None, 2047)


def test_an_ecdsa_key_must_be_on_the_algorithm_s_curve() -> None:
    assert ALGORITHMS["ES256"].fits("EC", "P-256", 256)
    assert not ALGORITHMS["ES256"].fits("EC", "P-384", 384)
    assert ALGORITHMS["ES512"].fits("EC", "P-521", 521)
    assert not ALGORITHMS["ES384"].fits("EC", None, 384)


def test_eddsa_takes_either_curve_and_the_new_names_one_each() -> None:
    assert ALGORITHMS["EdDSA"].fits("OKP", "Ed25519", 256)
    assert ALGORITHMS["EdDSA"].fits("OKP", "Ed448", 456)
    assert ALGORITHMS["Ed25519"].fits("OKP", "Ed25519", 256)
    assert not ALGORITHMS["Ed25519"].fits("OKP", "Ed448", 456)
    assert not ALGORITHMS["Ed448"].fits("OKP", "Ed25519", 256)


def test_no_algorithm_takes_a_key_of_another_type() -> None:
    for entry in ALGORITHMS.values():
        others = {"RSA", "EC", "OKP", "oct"} - {entry.kty}
        assert not any(entry.fits(kty, entry.curve, 8192) for kty in others)


def test_the_smallest_keys_of_each_type() -> None:
    assert min_key_bits("oct") == 256
    assert min_key_bits("RSA") == 2048


def test_key_import_asks_the_table() -> None:
    # A 40-byte secret fits HS256 only (RFC 7518 §3.2); a 31-byte one fits nothing and is
    # refused with the rule it breaks.
    assert VerificationKey.from_public_key(b"k" * 40).algorithms == {"HS256"}
    with pytest.raises(ValueError, match="at least 32 bytes"):
        VerificationKey.from_public_key(b"k" * 31)
    with pytest.raises(ValueError, match="cannot verify"):
        VerificationKey.from_public_key(b"k" * 64, algorithm="RS256")
