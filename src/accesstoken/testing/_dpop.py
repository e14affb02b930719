"""`DPoPKey`: a client's DPoP key pair, to mint DPoP-bound tokens and their proofs in tests.

Proofs are signed with joserfc, as `LocalIssuer`'s tokens are, and the thumbprint `jkt`
is joserfc's: the verifier's own RFC 7638 code is never used to build what it checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws

from .._algorithms import ALGORITHMS
from ._issuer import _REGISTRY, _SigningKey, _without_none

__all__ = ["DPoPKey"]


class DPoPKey:
    """A client's DPoP key pair (RFC 9449): its thumbprint, and proofs signed with it.

    Example:
        ```python
        from accesstoken.testing import DPoPKey, LocalIssuer

        key = DPoPKey()
        token = LocalIssuer().issue(dpop_key=key)  # cnf: {"jkt": key.jkt}
        proof = key.proof("GET", "https://api.example.com/orders", access_token=token)
        ```

    Attributes:
        algorithm: The JWS `alg` of the proofs.
    """

    def __init__(self, algorithm: str = "ES256") -> None:
        """Create a fresh key pair for `algorithm`.

        Args:
            algorithm: An asymmetric algorithm: ES256/384/512, RS*, PS* or EdDSA (Ed25519).

        Raises:
            ValueError: an unknown or symmetric algorithm.
        """
        spec = ALGORITHMS.get(algorithm)
        if spec is None or spec.kty == "oct":
            raise ValueError(f"a DPoP key needs an asymmetric algorithm, not {algorithm!r}")
        self.algorithm = algorithm
        self._key = _SigningKey.generate(algorithm).key

    def __repr__(self) -> str:
        return f"DPoPKey(algorithm={self.algorithm!r}, jkt={self.jkt!r})"

    @property
    def jwk(self) -> dict[str, Any]:
        """Return the public key as a JWK: what each proof carries in its `jwk` header."""
        return dict(self._key.as_dict(private=False))

    @property
    def jkt(self) -> str:
        """Return the key's RFC 7638 SHA-256 thumbprint: what a bound token's `cnf.jkt` holds."""
        return self._key.thumbprint()

    @property
    def cnf(self) -> dict[str, str]:
        """Return the `cnf` claim (RFC 7800) of a token bound to this key."""
        return {"jkt": self.jkt}

    def proof(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        iat: float | None = None,
        jti: str | None = None,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """Return a DPoP proof (RFC 9449 §4.2) for one request: the `DPoP` header's value.

        The header is `typ` "dpop+jwt", `alg` and `jwk`; the claims `htm` (the method), `htu`
        (the URL without query and fragment), `iat` (now), a random `jti` and, with an
        `access_token`, its hash `ath`. `headers` and `claims` add to them, replace them or,
        given as None, remove them, to build proofs that must fail.

        Args:
            method: The request's method.
            url: The request's URL, as the client addresses it.
            access_token: The token sent with the proof (with or without its scheme).
            iat: The proof's time, epoch seconds; default now.
            jti: The proof's unique id; default random.
            headers: Header members to add, replace or (as None) remove.
            **claims: Claims to add, replace or (as None) remove.
        """
        scheme, netloc, path, _, _ = urlsplit(url)
        defaults: dict[str, Any] = {
            "htm": method,
            "htu": urlunsplit((scheme, netloc, path, "", "")),
            "iat": int(time.time()) if iat is None else iat,
            "jti": secrets.token_urlsafe(16) if jti is None else jti,
        }
        if access_token is not None:
            token = access_token.split(" ", 1)[-1]  # "DPoP eyJ..." or "eyJ..."
            digest = hashlib.sha256(token.encode()).digest()
            defaults["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        header = _without_none(
            {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.jwk, **(headers or {})}
        )
        payload = json.dumps(_without_none({**defaults, **claims}), separators=(",", ":"))
        return self.sign(header, payload.encode())

    def sign(self, header: Mapping[str, Any], payload: bytes) -> str:
        """Return a compact JWS of any header and payload bytes, signed with this key.

        For proofs no honest client would send (a payload that is not JSON, say); the
        header is taken as it is, and its `alg` must fit the key's type.

        Raises:
            ValueError: the header has no `alg`.
        """
        if "alg" not in header:
            raise ValueError("a signed proof needs an alg header")
        return jws.serialize_compact(dict(header), payload, self._key, registry=_REGISTRY)
