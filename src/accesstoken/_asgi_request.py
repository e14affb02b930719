"""What an ASGI request carries for a bound token, read from its raw scope.

Shared by the ASGI middleware and the FastAPI dependency; called only when there is
something to read (a verifier with DPoP options, a TLS extension), never for a plain
bearer request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

from ._authenticate import Carried, Guard, needs_request
from ._bearer import authorization_values, join_dpop
from ._certificates import pem_to_der
from ._dpop import RequestContext

__all__ = ["asgi_carried", "authorization_and_dpop", "certificate_of", "request_context"]


def asgi_carried(guard: Guard, scope: MutableMapping[str, Any]) -> Carried:
    """Return what an ASGI request carried for the shared step, and its request facts.

    Read from the raw ASGI headers: no framework `Headers` object per request. Without DPoP
    options and without a TLS extension (a plain bearer request) nothing more is read, and
    the request facts are None.
    """
    if guard.dpop is None:
        authorization, dpop = authorization_values(scope["headers"]), None
    else:
        authorization, dpop = authorization_and_dpop(scope["headers"])
    extensions = scope.get("extensions")
    certificate = certificate_of(extensions) if extensions and "tls" in extensions else None
    query = scope.get("query_string", b"")
    if (dpop is not None or certificate is not None) and needs_request(
        guard, authorization, dpop, certificate
    ):
        return authorization, query, request_context(guard, scope, dpop, certificate)
    return authorization, query, None


def authorization_and_dpop(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[list[bytes], list[bytes]]:
    """Return every `Authorization` value and every `DPoP` value, in order, in one pass."""
    authorization, dpop = [], []
    for name, value in headers:
        size = len(name)
        if size == 13 and name.lower() == b"authorization":
            authorization.append(value)
        elif size == 4 and name.lower() == b"dpop":
            dpop.append(value)
    return authorization, dpop


def certificate_of(extensions: Mapping[str, Any]) -> bytes | None:
    """Return the client certificate of the ASGI TLS extension, in DER; None without one."""
    chain = (extensions.get("tls") or {}).get("client_cert_chain") or ()
    return pem_to_der(chain[0]) if chain else None


def request_context(
    guard: Guard,
    scope: MutableMapping[str, Any],
    dpop: list[bytes] | None,
    certificate: bytes | None,
) -> RequestContext:
    """Return what the verifier checks a bound token against: method, URL, proof, certificate.

    The URL is built from the raw path and query the client sent, never the decoded path.
    """
    host = None
    for name, value in scope["headers"]:
        if name.lower() == b"host":
            host = value.decode("latin-1")
            break
    if host is None and scope.get("server"):
        server_host, port = scope["server"]
        host = server_host if port is None else f"{server_host}:{port}"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme"))
    url = guard.url(scheme or "http", host, path, scope.get("query_string", b"").decode("latin-1"))
    method = scope.get("method", "GET")
    return RequestContext(method, url, join_dpop(dpop or ()), certificate)
