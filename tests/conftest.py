"""Shared fixtures: signing keys made once per run, token minting, and both verify paths."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from accesstoken import AccessToken, StaticKeys, TokenVerifier

ISSUER = "https://issuer.test/"
AUDIENCE = "orders-api"
NOW = 1_700_000_000.0

ALGORITHMS = [
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
    "Ed448",
]

Key = RSAKey | ECKey | OKPKey | OctKey
_KEYS: dict[str, Key] = {}


def signing_key(alg: str) -> Key:
    """Return a private key for `alg` (one per algorithm family and size, made once per run)."""
    if alg not in _KEYS:
        kid = f"kid-{alg}"
        params = {"kid": kid}
        if alg.startswith("HS"):
            key: Key = OctKey.generate_key(int(alg[2:]), parameters=params)
        elif alg[:2] in ("RS", "PS"):
            key = RSAKey.generate_key(2048, parameters=params)
        elif alg.startswith("ES"):
            curve = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
            key = ECKey.generate_key(curve, parameters=params)
        else:
            curve = "Ed448" if alg == "Ed448" else "Ed25519"
            key = OKPKey.generate_key(curve, parameters=params)
        _KEYS[alg] = key
    return _KEYS[alg]


def public_jwks(*algs: str) -> dict[str, Any]:
    """Return a JWK Set of the public keys for `algs` (oct keys included: tests own them)."""
    keys = []
    for alg in algs:
        key = signing_key(alg)
        jwk = dict(key.as_dict(private=alg.startswith("HS")))
        jwk["kid"] = f"kid-{alg}"
        keys.append(jwk)
    return {"keys": keys}


def claims(**overrides: Any) -> dict[str, Any]:
    """Return a valid claims set at `NOW`; a claim set to None is left out."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 300,
        "scope": "orders:read orders:write",
        "jti": "jti-1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def mint(
    alg: str = "RS256",
    payload: Mapping[str, Any] | None = None,
    *,
    header: Mapping[str, Any] | None = None,
    key: Key | None = None,
) -> str:
    """Return a compact JWS signed by joserfc, an implementation independent of ours."""
    protected = {"alg": alg, "kid": f"kid-{alg}", "typ": "at+jwt"}
    protected.update(header or {})
    protected = {name: value for name, value in protected.items() if value is not None}
    body = json.dumps(claims() if payload is None else dict(payload)).encode()
    signing_input = f"{b64(json.dumps(protected).encode())}.{b64(body)}"
    # joserfc's algorithm objects sign whatever header we hand them, odd ones included.
    signature = JWSRegistry.algorithms[alg].sign(signing_input.encode(), key or signing_key(alg))
    return f"{signing_input}.{b64(signature)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes, sig: bytes) -> str:
    """Return a token assembled by hand, for inputs no honest signer would produce."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64(head)}.{b64(body)}.{b64(sig)}"


def self_signed(
    private: ec.EllipticCurvePrivateKey, name: str, *, days: int = 1
) -> x509.Certificate:
    """Return a self-signed certificate for `private`'s public key, named `name`."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(private, hashes.SHA256())
    )


def make_verifier(*algs: str, **options: Any) -> TokenVerifier:
    """Return a verifier over the keys of `algs` with a clock fixed at `NOW`."""
    options.setdefault("issuer", ISSUER)
    options.setdefault("audience", AUDIENCE)
    options.setdefault("clock", lambda: NOW)
    return TokenVerifier(StaticKeys.from_jwks(public_jwks(*(algs or ("RS256",)))), **options)


Verify = Callable[..., AccessToken]


@pytest.fixture(params=["sync", "async"])
def verify(request: pytest.FixtureRequest) -> Verify:
    """Return `verify(verifier, raw, scopes=())` running the sync or the async path."""

    def run(verifier: TokenVerifier, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        if request.param == "sync":
            return verifier.verify(raw, scopes=scopes)
        return asyncio.run(verifier.verify_async(raw, scopes=scopes))

    return run


@pytest.fixture
def real_now() -> float:
    return time.time()
