"""Everything the library needs to know about one JWS `alg`, in one place (RFC 7518 §3, RFC 8037).

Nothing else in the package lists algorithms, or says which keys one accepts: the entry's
`fits()` judges a key's type, curve and size, and key sources ask it once, when a key is
imported. Signatures are checked with `cryptography` directly, on key objects imported
once when the key source is built, so a verification costs the primitive itself (the
verifier looks its entry up once per distinct header, which it remembers). The key's type
is not checked again here (an `isinstance` against cryptography's abstract classes costs
more than a tenth of an HMAC): `KeySet` only ever pairs an algorithm with a key it fits.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["ALGORITHMS", "SUPPORTED_ALGORITHMS", "Algorithm", "PublicKey", "min_key_bits"]

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
#: A verification primitive: (key, signing input, signature) -> valid? The key is typed
#: Any because each entry takes its own key class (see the module docstring).
Verify = Callable[[Any, bytes, bytes], bool]


#: The smallest RSA modulus accepted for verification (NIST SP 800-131A; RFC 7518 §3.3).
_MIN_RSA_BITS: Final = 2048


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One JWS algorithm: the keys it accepts and how to check a signature with one."""

    name: str
    kty: str  # JWK key type: "RSA", "EC", "OKP" or "oct"
    curve: str | None  # the JWK crv the key must have; None: any (EdDSA: Ed25519 or Ed448)
    bits: int  # hash size in bits
    # The smallest key accepted, in bits: for HMAC the hash size (RFC 7518 §3.2), for RSA
    # 2048 (§3.3); 0 for elliptic curves, whose size the curve fixes.
    min_key_bits: int
    verify: Verify

    def fits(self, kty: str, curve: str | None, key_bits: int) -> bool:
        """Return whether a key of type `kty`, curve `curve` and `key_bits` bits may verify it."""
        return (
            kty == self.kty
            and (self.curve is None or curve == self.curve)
            and key_bits >= self.min_key_bits
        )


_HASHES: Final[dict[int, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    256: hashes.SHA256,
    384: hashes.SHA384,
    512: hashes.SHA512,
}
# ECDSA: coordinate size in bytes for the raw R || S signature (RFC 7518 §3.4).
_EC_SIZES: Final = {"P-256": 32, "P-384": 48, "P-521": 66}


def _hmac(bits: int) -> Verify:
    # A name, not a constructor: hmac.digest() then runs OpenSSL's one-shot HMAC in C.
    digest = f"sha{bits}"

    def verify(key: bytes, data: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(hmac.digest(key, data, digest), signature)

    return verify


def _rsa_pkcs1(bits: int) -> Verify:
    hash_alg = _HASHES[bits]()
    pkcs1 = padding.PKCS1v15()

    def verify(key: rsa.RSAPublicKey, data: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, data, pkcs1, hash_alg)
        except InvalidSignature:
            return False
        return True

    return verify


def _rsa_pss(bits: int) -> Verify:
    hash_alg = _HASHES[bits]()
    # RFC 7518 §3.5: the salt is as long as the hash output; no other length is accepted.
    pss = padding.PSS(mgf=padding.MGF1(_HASHES[bits]()), salt_length=bits // 8)

    def verify(key: rsa.RSAPublicKey, data: bytes, signature: bytes) -> bool:
        # RFC 8017 §8.1.2: the signature is exactly k bytes, k the modulus size. OpenSSL
        # takes a shorter one for PSS (not for PKCS #1 v1.5), so a signature starting with
        # a zero byte would verify with that byte removed too: two encodings of one token.
        if len(signature) != (key.key_size + 7) // 8:
            return False
        try:
            key.verify(signature, data, pss, hash_alg)
        except InvalidSignature:
            return False
        return True

    return verify


def _ecdsa(bits: int, curve: str) -> Verify:
    size = _EC_SIZES[curve]
    ecdsa = ec.ECDSA(_HASHES[bits]())

    def verify(key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
        # RFC 7518 §3.4: exactly R || S, each left-padded to the coordinate size.
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        if r == 0 or s == 0:
            return False
        # s and n - s both verify (ECDSA is malleable). Both are accepted: many issuers do
        # not normalise s, so refusing the high one would refuse half of their tokens. A
        # token therefore has two signature encodings; docs/security.md says what follows.
        try:
            key.verify(encode_dss_signature(r, s), data, ecdsa)
        except InvalidSignature:
            return False
        return True

    return verify


def _eddsa(
    key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey, data: bytes, signature: bytes
) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _table() -> dict[str, Algorithm]:
    table: dict[str, Algorithm] = {}
    for bits in (256, 384, 512):
        table[f"HS{bits}"] = Algorithm(f"HS{bits}", "oct", None, bits, bits, _hmac(bits))
        table[f"RS{bits}"] = Algorithm(
            f"RS{bits}", "RSA", None, bits, _MIN_RSA_BITS, _rsa_pkcs1(bits)
        )
        table[f"PS{bits}"] = Algorithm(
            f"PS{bits}", "RSA", None, bits, _MIN_RSA_BITS, _rsa_pss(bits)
        )
    for bits, curve in ((256, "P-256"), (384, "P-384"), (512, "P-521")):
        table[f"ES{bits}"] = Algorithm(f"ES{bits}", "EC", curve, bits, 0, _ecdsa(bits, curve))
    table["EdDSA"] = Algorithm("EdDSA", "OKP", None, 512, 0, _eddsa)
    # RFC 9864's fully-specified names, which deprecate the polymorphic "EdDSA".
    table["Ed25519"] = Algorithm("Ed25519", "OKP", "Ed25519", 512, 0, _eddsa)
    table["Ed448"] = Algorithm("Ed448", "OKP", "Ed448", 912, 0, _eddsa)
    return table


ALGORITHMS: Final[dict[str, Algorithm]] = _table()
SUPPORTED_ALGORITHMS: Final[frozenset[str]] = frozenset(ALGORITHMS)


def min_key_bits(kty: str) -> int:
    """Return the size of the smallest key of type `kty` that some algorithm accepts."""
    return min(alg.min_key_bits for alg in ALGORITHMS.values() if alg.kty == kty)
