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

from collections.abc import Collection, Iterable

from ._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    answer_later,
    asgi_carried,
    metadata_answer,
    refuse,
)
from ._authenticate import Guard, Refusal, authenticate_async
from ._paths import ExcludedPaths
from ._resource import ProtectedResource
from ._verifier import Verifier
from .errors import AccessTokenError

__all__ = ["ASGIApp", "AccessTokenMiddleware", "Message", "Receive", "Scope", "Send"]


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
        self._metadata = None if resource is None else metadata_answer(resource)
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
            await refuse(outcome, scope, receive, send)
            return
        scope.setdefault("state", {})["access_token"] = outcome
        try:  # free until something raises: no wrapper around `send` on every request
            await self.app(scope, receive, send)
        except AccessTokenError as exc:  # `token.require_roles()` in the app: its refusal
            if scope["type"] != "http":
                raise
            try:
                await refuse(self._guard.refuse(exc), scope, receive, send)
            except Exception:  # the app had started its answer: nothing to replace
                raise exc from None

    async def _in_app(self, _request: object, exc: Exception) -> ASGIApp:
        """The Starlette exception handler of a refusal raised in a route."""
        assert isinstance(exc, AccessTokenError)  # the type it is registered for
        return await answer_later(self._guard.refuse(exc))
