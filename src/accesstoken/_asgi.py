"""Raw ASGI for the adapters: what a request carried, read from its scope, and the answers.

Shared by the ASGI middleware, the FastAPI dependency, the Starlette backend and the MCP
middleware, so that none of them needs a framework object per request. What a bound token
needs (method, URL, `DPoP`, client certificate) is read only when there is something to
check (a verifier with DPoP options, a TLS extension), never for a plain bearer request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final, TypeAlias
from urllib.parse import quote

from ._authenticate import Carried, Guard, Refusal, needs_request
from ._bearer import authorization_values, join_dpop
from ._certificates import pem_to_der
from ._dpop import RequestContext
from ._resource import ProtectedResource
from ._responses import ErrorResponse
from .errors import KeySourceError

__all__ = [
    "WS_POLICY_VIOLATION",
    "WS_TRY_AGAIN_LATER",
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "answer_later",
    "asgi_carried",
    "authorization_and_dpop",
    "certificate_of",
    "metadata_answer",
    "refuse",
    "request_context",
    "send_json",
]

# As in `starlette/types.py`; declared here so that this module needs no framework.
Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

#: RFC 6455 §7.4.1: 1008 "policy violation" refuses the client's credentials; 1013 "try
#: again later" says the server cannot check them now (a 503, never the client's fault).
WS_POLICY_VIOLATION: Final = 1008
WS_TRY_AGAIN_LATER: Final = 1013
_DENIAL_EXTENSION: Final = "websocket.http.response"


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


def metadata_answer(
    resource: ProtectedResource,
) -> tuple[str, Callable[[Send], Awaitable[None]]]:
    """Return the metadata path and a function answering it with the document (RFC 9728 §3.2)."""
    body = json.dumps(resource.metadata()).encode()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def answer(send: Send) -> None:
        await send(dict(start))
        await send({"type": "http.response.body", "body": body})

    return resource.metadata_path, answer


async def answer_later(refusal: Refusal) -> ASGIApp:
    """Return an ASGI app answering `refusal` (what a Starlette exception handler returns)."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, "http", refusal.response)

    return answer


async def refuse(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a refused request; refuse a websocket before `websocket.accept`.

    A websocket gets the HTTP answer when the server offers the denial response extension,
    else a `websocket.close` (the server then answers the handshake with 403).
    """
    if scope["type"] == "http":
        await send_json(send, "http", refusal.response)
        return
    if (await receive())["type"] != "websocket.connect":
        return  # the client has gone already
    if _DENIAL_EXTENSION in scope.get("extensions", {}):
        await send_json(send, "websocket.http", refusal.response)
        return
    exc = refusal.error
    code = WS_TRY_AGAIN_LATER if isinstance(exc, KeySourceError) else WS_POLICY_VIOLATION
    await send({"type": "websocket.close", "code": code, "reason": exc.error or "unauthorized"})


async def send_json(send: Send, kind: str, response: ErrorResponse) -> None:
    """Send `response` as a JSON answer of `kind` ("http" or "websocket.http")."""
    body = json.dumps(response.body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in response.headers.items()),
    ]
    start = {"type": f"{kind}.response.start", "status": response.status_code, "headers": headers}
    await send(start)
    await send({"type": f"{kind}.response.body", "body": body})
