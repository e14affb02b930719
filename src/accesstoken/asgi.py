"""`AccessTokenMiddleware`: bearer tokens for any ASGI 3 application, without a framework.

```python
from accesstoken.asgi import AccessTokenMiddleware

app = AccessTokenMiddleware(app, verifier, exclude=("/health",))
# in a Starlette endpoint: request.state.access_token
```

With `resource=ProtectedResource(...)` it answers `GET resource.metadata_path` itself, without
authentication (RFC 9728 §3), and names the document in every 401 and 403 challenge. With a
verifier that has `dpop=`, it accepts the `DPoP` scheme and hands the verifier the method,
the URL (from `public_url` behind a proxy), the `DPoP` header and the client certificate of
the ASGI TLS extension, when there is one of these to check.

Pure ASGI in the shape of Starlette's `AuthenticationMiddleware`: it passes lifespan and
unknown scope types through, writes the verified token into `scope["state"]` (which
Starlette's `request.state` wraps) and awaits the application. It never buffers a body, so
streaming responses and websockets are untouched once the token is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import Any, Final, TypeAlias

from ._asgi_request import asgi_carried
from ._authenticate import Guard, Refusal, authenticate_async
from ._paths import ExcludedPaths
from ._resource import ProtectedResource
from ._responses import ErrorResponse
from ._verifier import Verifier
from .errors import AccessTokenError, KeySourceError

__all__ = ["ASGIApp", "AccessTokenMiddleware", "Message", "Receive", "Scope", "Send"]

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


class AccessTokenMiddleware:
    """Verify the bearer token of every HTTP request and websocket connection.

    Args:
        app: the ASGI application to protect.
        verifier: a `TokenVerifier` or any object with `verify_async()`.
        exclude: paths let through unchecked, each with everything below it: "/health"
            covers "/health" and "/health/live", never "/healthz", nor a path with a dot
            segment, "//", a backslash or "%" (such as "/health/../report.txt"), which is
            authenticated as usual. "/" is refused (`ValueError`): it would exclude everything.
        optional: let requests without a token through, with `access_token` None; a token
            that is present but invalid is still refused.
        scopes: scopes every request must carry (403 `insufficient_scope` otherwise).
        roles: roles every request must carry (403 otherwise).
        realm: the `realm` of the `WWW-Authenticate` challenge, if any.
        public_url: the origin clients address ("https://api.example.com") when a proxy
            stands in front: a DPoP proof's `htu` is checked against it, not the `Host`.
        resource: the RFC 9728 metadata, served at its `metadata_path` and named in
            every 401 and 403 challenge.
        acr_values: authentication context classes every token's `acr` must be one of.
        max_age: the oldest `auth_time` accepted, in seconds (RFC 9470).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        exclude: Iterable[str] = (),
        optional: bool = False,
        scopes: Collection[str] = (),
        roles: Collection[str] = (),
        realm: str | None = None,
        public_url: str | None = None,
        resource: ProtectedResource | None = None,
        acr_values: str | Collection[str] = (),
        max_age: float | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self._excluded = ExcludedPaths(exclude)
        self.exclude = self._excluded.paths
        guard = Guard.of(
            verifier, optional=optional, realm=realm, resource=resource, public_url=public_url
        )
        self._guard = guard.demanding(scopes, roles, acr_values=acr_values, max_age=max_age)
        self._metadata = None if resource is None else _metadata_answer(resource)
        # A Starlette or FastAPI app answers an exception of a route with its own 500 before
        # this middleware sees it: such an app is given a handler for refusals instead.
        handlers = getattr(app, "exception_handlers", None)
        if isinstance(handlers, dict) and AccessTokenError not in handlers:
            app.add_exception_handler(AccessTokenError, self._in_app)  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the connection's token, then hand it to the application or refuse it."""
        if scope["type"] not in ("http", "websocket") or self._excluded.match(scope):
            await self.app(scope, receive, send)
            return
        metadata = self._metadata
        if metadata is not None and scope["path"] == metadata[0] and scope.get("method") == "GET":
            await metadata[1](send)  # the document is public (RFC 9728 §3)
            return
        guard = self._guard
        outcome = await authenticate_async(self.verifier, guard, asgi_carried(guard, scope))
        if isinstance(outcome, Refusal):
            await _refuse(outcome, scope, receive, send)
            return
        scope.setdefault("state", {})["access_token"] = outcome
        try:  # free until something raises: no wrapper around `send` on every request
            await self.app(scope, receive, send)
        except AccessTokenError as exc:  # `token.require_roles()` in the app: its refusal
            if scope["type"] != "http":
                raise
            try:
                await _refuse(self._guard.refuse(exc), scope, receive, send)
            except Exception:  # the app had started its answer: nothing to replace
                raise exc from None

    async def _in_app(self, _request: object, exc: Exception) -> ASGIApp:
        """The Starlette exception handler of a refusal raised in a route."""
        assert isinstance(exc, AccessTokenError)  # the type it is registered for
        return await _answer_later(self._guard.refuse(exc))


def _metadata_answer(
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


async def _answer_later(refusal: Refusal) -> ASGIApp:
    """Return an ASGI app answering `refusal` (what a Starlette exception handler returns)."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await _send_json(send, "http", refusal.response)

    return answer


async def _refuse(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a refused request; refuse a websocket before `websocket.accept`.

    A websocket gets the HTTP answer when the server offers the denial response extension,
    else a `websocket.close` (the server then answers the handshake with 403).
    """
    if scope["type"] == "http":
        await _send_json(send, "http", refusal.response)
        return
    if (await receive())["type"] != "websocket.connect":
        return  # the client has gone already
    if _DENIAL_EXTENSION in scope.get("extensions", {}):
        await _send_json(send, "websocket.http", refusal.response)
        return
    exc = refusal.error
    code = WS_TRY_AGAIN_LATER if isinstance(exc, KeySourceError) else WS_POLICY_VIOLATION
    await send({"type": "websocket.close", "code": code, "reason": exc.error or "unauthorized"})


async def _send_json(send: Send, kind: str, response: ErrorResponse) -> None:
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
