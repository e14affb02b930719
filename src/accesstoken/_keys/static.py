"""Key sources that hold their keys from the start: a shared secret, PEM keys, an inline JWK Set.

Everything is parsed and checked when the source is built; a bad key is the programmer's
`ValueError` there, never a surprise while a request is being served.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .._algorithms import PublicKey
from .._json import loads_strict
from .base import KeySet, KeySource, VerificationKey, short_secret_error

__all__ = ["HMACSecret", "StaticKeys"]


class StaticKeys(KeySource):
    """A fixed set of keys: from PEM, from an inline JWK Set, or from a file."""

    __slots__ = ("_key_set",)

    def __init__(self, keys: KeySet) -> None:
        # An HMAC secret too short for any algorithm is a configuration mistake (RFC 7518
        # §3.2), refused here like HMACSecret's. A set with no usable key at all, such as
        # {"keys": []}, is allowed: every token then fails as UnknownKey.
        for key in keys.keys:
            if key.kty == "oct" and not key.algorithms:
                raise short_secret_error()
        self._key_set = keys

    def key_set(self) -> KeySet:
        """Return the key set given when the source was built."""
        return self._key_set

    def key_set_nowait(self) -> KeySet:
        """Return the key set given when the source was built: always at hand."""
        return self._key_set

    @classmethod
    def from_pem(
        cls, pem: str | bytes, *, kid: str | None = None, algorithm: str | None = None
    ) -> StaticKeys:
        """Return a source holding one public key, or the key of an X.509 certificate, in PEM.

        A private key is accepted and reduced to its public half. `algorithm` narrows the key
        to one algorithm (say, "PS256" for an RSA key).

        Raises:
            ValueError: not a PEM key, an unsupported or weak key, or an unknown `algorithm`.
        """
        data = pem.encode() if isinstance(pem, str) else pem
        public = _load_pem(data)
        return cls(KeySet([VerificationKey.from_public_key(public, kid=kid, algorithm=algorithm)]))

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any] | str) -> StaticKeys:
        """Return a source holding the keys of a JWK Set (RFC 7517 §5), given as a mapping or JSON.

        Keys meant for something else (`use` other than "sig", `key_ops` without "verify")
        are kept out of key selection. Symmetric (`oct`) keys are allowed here, as the set is
        the application's own. An empty set is allowed: tokens then fail as `UnknownKey`.

        Raises:
            ValueError: malformed JSON or JWK, or an HMAC secret shorter than 32 bytes.
        """
        if isinstance(jwks, str | bytes):
            jwks = _parse_json(jwks)
        keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(keys, list):
            raise ValueError('a JWK Set must be a JSON object with a "keys" list')
        return cls(KeySet(VerificationKey.from_jwk(jwk) for jwk in keys))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> StaticKeys:
        """Return a source holding the keys of a file in PEM, JWK or JWK Set form.

        Raises:
            ValueError: the file holds none of these.
        """
        with open(path, "rb") as file:
            data = file.read()
        if data.lstrip().startswith(b"-----BEGIN"):
            return cls.from_pem(data)
        document = _parse_json(data)
        if "keys" in document:
            return cls.from_jwks(document)
        return cls(KeySet([VerificationKey.from_jwk(document)]))

    def __repr__(self) -> str:
        return f"StaticKeys({self._key_set!r})"


class HMACSecret(StaticKeys):
    """A shared secret for HS256, HS384 and HS512 (RFC 7518 §3.2).

    The secret must be at least as long as the hash output: 32 bytes for HS256, 48 for
    HS384, 64 for HS512 (the algorithm table's rule). A secret too short for all three is
    refused here; a 40-byte secret verifies HS256 only, and never an HS512 token.
    """

    __slots__ = ()

    def __init__(self, secret: str | bytes, *, kid: str | None = None) -> None:
        data = secret.encode() if isinstance(secret, str) else secret
        if not isinstance(data, bytes):
            raise TypeError("secret must be str or bytes")
        super().__init__(KeySet([VerificationKey.from_public_key(data, kid=kid)]))

    def __repr__(self) -> str:
        return "HMACSecret(<secret>)"


def _load_pem(data: bytes) -> PublicKey:
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            public: object = x509.load_pem_x509_certificate(data).public_key()
        elif b"PRIVATE KEY-----" in data:
            public = serialization.load_pem_private_key(data, password=None).public_key()
        else:
            public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a PEM public key, private key or certificate") from exc
    if isinstance(public, PublicKey):
        return public
    raise ValueError("unsupported key type")


def _parse_json(data: str | bytes) -> dict[str, Any]:
    document = loads_strict(data.encode() if isinstance(data, str) else data)
    if document is None:
        raise ValueError("not a JSON object")
    return document
