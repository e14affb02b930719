"""What the sender-constrained, step-up and resource-metadata tests of every adapter share."""

from __future__ import annotations

import base64
import datetime
import hashlib
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
