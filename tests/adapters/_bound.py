"""What the sender-constrained, step-up and resource-metadata tests of every adapter share."""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accesstoken import DPoP, ProtectedResource, TokenVerifier
from accesstoken.testing import DPoPKey, LocalIssuer

ISSUER = LocalIssuer(algorithm="ES256")
KEY = DPoPKey("ES256")
RESOURCE = ProtectedResource(
    "https://api.example.com/orders", authorization_servers=[ISSUER.issuer]
)
METADATA = f'resource_metadata="{RESOURCE.metadata_url}"'
BASE = "http://testserver"


def dpop_verifier(**options: Any) -> TokenVerifier:
    """Return a verifier of ISSUER's tokens that accepts DPoP."""
    return ISSUER.verifier(dpop=DPoP(), **options)


def bound_token(**claims: Any) -> str:
    """Return a DPoP-bound token of ISSUER, for KEY."""
    return ISSUER.issue(dpop_key=KEY, **claims)


def dpop_headers(token: str, method: str = "GET", url: str = f"{BASE}/whoami") -> dict[str, str]:
    """Return the headers of a DPoP request: the token with its scheme, and a fresh proof."""
    return {"Authorization": f"DPoP {token}", "DPoP": KEY.proof(method, url, access_token=token)}


def check_unproven_bound_token_is_refused(get: Callable[..., Any]) -> None:
    """A DPoP-bound token sent as Bearer, or in the DPoP scheme without a proof: both 401.

    `get(path, headers=...)` sends a GET through the adapter under test.
    """
    token = bound_token()
    assert get("/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    response = get("/whoami", headers={"Authorization": f"DPoP {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def check_the_proof_names_the_public_url(get: Callable[..., Any]) -> None:
    """Behind `public_url="https://api.example.com"`, a proof for that URL is accepted."""
    token = bound_token()
    public = dpop_headers(token, url="https://api.example.com/whoami")
    assert get("/whoami", headers=public).status_code == 200


def check_challenges_name_the_metadata(get: Callable[..., Any]) -> None:
    """The 401 of `/whoami` without a token and the 403 of `/write` (a scope the token lacks)
    both name the resource metadata."""
    assert METADATA in get("/whoami").headers["WWW-Authenticate"]
    scoped = get("/write", headers={"Authorization": f"Bearer {ISSUER.issue()}"})
    assert scoped.status_code == 403
    assert METADATA in scoped.headers["WWW-Authenticate"]


def certificate() -> tuple[str, str]:
    """Return a self-signed client certificate in PEM, and its RFC 8705 `x5t#S256`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), thumbprint
