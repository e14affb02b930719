"""The TLS client certificate of a request, as servers hand it over, in DER (RFC 8705)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["pem_to_der"]


def pem_to_der(pem: str | bytes | None) -> bytes | None:
    """Return the DER bytes of a PEM certificate; None for none, or for one that is unreadable.

    An unreadable certificate counts as none: a certificate-bound token is then refused,
    and a bearer token is unaffected. ASGI's TLS extension and WSGI's `SSL_CLIENT_CERT`
    both give PEM.
    """
    if not pem:
        return None
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
    except ValueError:
        return None
