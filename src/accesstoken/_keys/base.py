"""Keys as the verifier uses them: imported once, each knowing which algorithms it may verify.

A `KeySet` is an immutable snapshot; a `KeySource` hands out the current snapshot and, when
a token names a key it does not hold, may offer a fresher one. Whether a key fits an `alg`
is decided here, once, when the key is imported, so that choosing a key for a token is a
dictionary look-up: the algorithm table judges the key's type, curve and size
(`Algorithm.fits`), and the JWK's own `alg`, `use` and `key_ops` narrow its answer.
"""

from __future__ import annotations

import binascii
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from .._algorithms import ALGORITHMS, PublicKey, min_key_bits

__all__ = ["KeySet", "KeySource", "VerificationKey", "short_secret_error"]

_EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
# What importing an untrusted JWK may raise; anything else is a bug and propagates.
_JWK_ERRORS = (
    JoseError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    binascii.Error,
    UnsupportedAlgorithm,
)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key (or HMAC secret), and the algorithms it may verify."""

    kid: str | None
    kty: str
    key: PublicKey | bytes = field(repr=False)  # never print a secret
    algorithms: frozenset[str]

    @classmethod
    def from_public_key(
        cls,
        key: PublicKey | bytes,
        *,
        kid: str | None = None,
        algorithm: str | None = None,
    ) -> VerificationKey:
        """Return a key for a `cryptography` public key object or an HMAC secret.

        Raises:
            ValueError: the key is too weak (RSA under 2048 bits, an HMAC secret shorter than
                32 bytes) or fits no supported algorithm.
        """
        kty, curve, bits = _describe(key)
        usable = _algorithms_for(kty, curve, bits)
        if algorithm is not None:
            if algorithm not in ALGORITHMS:
                raise ValueError(f"unsupported algorithm {algorithm!r}")
            usable &= {algorithm}
        if not usable:
            if kty == "oct" and bits < min_key_bits("oct"):
                raise short_secret_error()
            raise ValueError("the key cannot verify any supported algorithm")
        return cls(kid, kty, key, frozenset(usable))

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, allow_secret: bool = True) -> VerificationKey:
        """Return the key a JWK (RFC 7517 §4) describes, honouring its `alg`, `use` and `key_ops`.

        The returned key may fit no algorithm at all (an encryption key, say); such a key is
        kept in its set but never chosen.

        Raises:
            ValueError: the JWK is malformed or of an unknown type, or `allow_secret` is
                False and it is a symmetric (`oct`) key.
        """
        if not isinstance(jwk, Mapping):
            raise ValueError("a JWK must be a JSON object")
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise ValueError("a JWK's kid must be a string")
        kty = jwk.get("kty")
        if kty == "oct" and not allow_secret:
            raise ValueError("a published key set must not hold symmetric keys")
        if kty not in ("RSA", "EC", "OKP", "oct"):
            raise ValueError("unsupported JWK key type")
        # Only the public members matter: a private JWK is reduced to its public half.
        try:
            imported = JWKRegistry.import_key(dict(jwk))
            key: PublicKey | bytes = (
                imported.raw_value if kty == "oct" else imported.public_key  # type: ignore[assignment]
            )
        except _JWK_ERRORS as exc:
            raise ValueError("malformed JWK") from exc
        kty_found, curve, bits = _describe(key)
        usable = _algorithms_for(kty_found, curve, bits) if kty_found == kty else set()
        alg = jwk.get("alg")
        if alg is not None:
            usable &= {alg} if isinstance(alg, str) else set()
        use = jwk.get("use")
        if use is not None and use != "sig":
            usable = set()
        key_ops = jwk.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            usable = set()
        return cls(kid, kty, key, frozenset(usable))


def short_secret_error() -> ValueError:
    """Return the error for an HMAC secret too short for every HS* algorithm (RFC 7518 §3.2)."""
    return ValueError(
        f"an HMAC secret must be at least {min_key_bits('oct') // 8} bytes (RFC 7518 §3.2)"
    )


def _describe(key: object) -> tuple[str, str | None, int]:
    """Return a key's JWK type, its curve (if any) and its size in bits."""
    if isinstance(key, bytes):
        return "oct", None, 8 * len(key)
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", None, key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", _EC_CURVES.get(key.curve.name), key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "OKP", "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "OKP", "Ed448", 456
    raise ValueError("unsupported key type")


def _algorithms_for(kty: str, curve: str | None, bits: int) -> set[str]:
    return {alg.name for alg in ALGORITHMS.values() if alg.fits(kty, curve, bits)}


class KeySet:
    """An immutable snapshot of verification keys, indexed by `kid`."""

    __slots__ = ("_by_kid", "_chosen", "_kidless", "keys")

    def __init__(self, keys: Iterable[VerificationKey] = ()) -> None:
        self.keys: tuple[VerificationKey, ...] = tuple(keys)
        by_kid: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(key)
        self._by_kid = {kid: tuple(keys) for kid, keys in by_kid.items()}
        self._kidless = tuple(key for key in self.keys if key.kid is None)
        # Only choices by a kid of the set (or by no kid) are remembered: kid values come
        # from tokens, and a memo of anything else would grow with every forged kid.
        self._chosen: dict[tuple[str | None, str], VerificationKey] = {}

    def select(self, kid: str | None, alg: str) -> VerificationKey | None:
        """Return the one key that must verify a token with this `kid` and `alg`, or None.

        A token with a `kid` gets the key of that `kid` that fits its `alg`; failing that, the
        single key without a `kid` that fits. A token without a `kid` gets a key only when
        exactly one key of the set fits its `alg`.
        """
        chosen = self._chosen.get((kid, alg))
        if chosen is not None:
            return chosen
        if kid is not None:
            for key in self._by_kid.get(kid, ()):
                if alg in key.algorithms:
                    self._chosen[(kid, alg)] = key
                    return key
            # Not remembered: this kid is not in the set, and a memo keyed by kids that
            # tokens make up would grow without bound.
            return _only([k for k in self._kidless if alg in k.algorithms])
        chosen = _only([k for k in self.keys if alg in k.algorithms])
        if chosen is not None:
            self._chosen[(None, alg)] = chosen
        return chosen

    @property
    def algorithms(self) -> frozenset[str]:
        """Every algorithm some key of the set can verify."""
        return frozenset().union(*(key.algorithms for key in self.keys))

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"KeySet(kids={[key.kid for key in self.keys]!r})"


def _only(candidates: list[VerificationKey]) -> VerificationKey | None:
    return candidates[0] if len(candidates) == 1 else None


class KeySource(ABC):
    """Where a verifier gets its keys. Subclass it to plug in a source of your own.

    `key_set()` returns the current snapshot. `refresh()` is asked when a token names a key
    the snapshot lacks; it returns a newer snapshot, or None when it declines (a static
    source, or a remote one inside its refresh cooldown). The async twins default to the
    sync methods, which is right for sources that do no I/O; remote sources override them.
    Sources raise `KeySourceUnavailable` when they have no usable key set at all.
    """

    @abstractmethod
    def key_set(self) -> KeySet:
        """Return the current key set."""

    def key_set_nowait(self) -> KeySet | None:
        """Return the current key set if it is at hand without I/O or waiting, else None.

        The verifier asks this first, for every token, and asks `key_set()` or
        `key_set_async()` only on None. A source that keeps the inherited
        `key_set_async()` does no I/O (see above), so its `key_set()` is at hand; a remote
        source answers from its cache while that is fresh.
        """
        if type(self).key_set_async is KeySource.key_set_async:
            return self.key_set()
        return None

    def refresh(self) -> KeySet | None:
        """Return a fresher key set after an unknown `kid`, or None to decline."""
        return None

    async def key_set_async(self) -> KeySet:
        """Return the current key set without blocking the event loop."""
        return self.key_set()

    async def refresh_async(self) -> KeySet | None:
        """Return a fresher key set after an unknown `kid`, or None to decline."""
        return self.refresh()
