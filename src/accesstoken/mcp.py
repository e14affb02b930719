"""`MCPTokenVerifier`: any accesstoken `Verifier` as the `mcp` SDK's `TokenVerifier`.

```python
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from accesstoken.mcp import KeySourceErrorMiddleware, MCPTokenVerifier

server = MCPServer("orders", token_verifier=MCPTokenVerifier(verifier), auth=AuthSettings(
    issuer_url="https://idp.example.com/", resource_server_url="https://api.example.com/mcp",
    validate_token_resource=True, required_scopes=["orders:read"]))
app = server.streamable_http_app()
app.add_middleware(KeySourceErrorMiddleware)
```

The SDK's bearer middleware calls `verify_token()` for each request and reads a refusal
from `None`: it then answers 401 with its own challenge, which names the SDK's metadata
document in `resource_metadata`. An outage is not a refusal, so a `KeySourceError`
propagates (a client told "invalid token" would drop a good token or log its user out).
The SDK does not catch it, and Starlette turns it into a 500; `KeySourceErrorMiddleware`
answers 503 with `Retry-After` instead, as every adapter of this library does.

Only this module imports the SDK (extra `accesstoken[mcp]`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from types import MappingProxyType
from typing import Annotated, Any

from ._introspection import IntrospectionVerifier
from ._resource import ProtectedResource
from ._responses import error_response
from ._token import AccessToken
from ._verifier import TokenVerifier, Verifier
from .errors import KeySourceError, TokenError

try:
    from mcp.server.auth.provider import AccessToken as SDKAccessToken
    from pydantic import Field, SkipValidation
    from starlette.responses import JSONResponse
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("accesstoken.mcp needs the mcp SDK: pip install 'accesstoken[mcp]'") from exc

__all__ = ["KeySourceErrorMiddleware", "MCPAccessToken", "MCPTokenVerifier"]

_log = logging.getLogger("accesstoken")


class MCPAccessToken(SDKAccessToken):
    """The SDK's `AccessToken` (`mcp.server.auth.provider.AccessToken`), as verified here.

    The same fields, for the SDK and for tools (`get_access_token()`), with two changes:
    its `repr()` leaves out the raw token, as this library's own `AccessToken` does, and
    `claims` are not validated again. They were parsed as strict JSON and checked by the
    verifier, and pydantic's check of every member would cost more than the rest of
    `MCPTokenVerifier` together.
    """

    token: str = Field(repr=False)
    claims: Annotated[dict[str, Any] | None, SkipValidation] = None


class MCPTokenVerifier:
    """The `mcp` SDK's `TokenVerifier` protocol, answered by any accesstoken `Verifier`.

    Args:
        verifier: a `TokenVerifier`, `IntrospectionVerifier`, `TokenRouter`,
            `MultiIssuerVerifier` or any object with `verify_async()`.
        resource: this server's resource identifier (a string or a `ProtectedResource`):
            the `aud` entry reported as `AccessToken.resource`. By default, the entry of
            `aud` that the verifier's `audience` accepted (see `resource_of()`).
    """

    __slots__ = ("_audiences", "_verifier")

    def __init__(self, verifier: Verifier, *, resource: str | ProtectedResource | None = None):
        if not isinstance(verifier, Verifier):
            raise TypeError("verifier must have verify() and verify_async(), as TokenVerifier")
        if isinstance(resource, ProtectedResource):
            resource = resource.resource
        elif resource is not None and not isinstance(resource, str):
            raise TypeError("resource must be a string, a ProtectedResource or None")
        self._verifier = verifier
        self._audiences = _audiences_of(verifier) if resource is None else frozenset((resource,))

    async def verify_token(self, token: str) -> MCPAccessToken | None:
        """Return the SDK's `AccessToken` (an `MCPAccessToken`) for a valid token, else None.

        Raises:
            KeySourceError: the token cannot be checked right now (keys, introspection or
                revocation store unreachable); never reported as a refusal.
        """
        try:
            verified = await self._verifier.verify_async(token)
        except TokenError:
            return None  # the verifier has logged why, at DEBUG
        return self.access_token(verified)

    def access_token(self, token: AccessToken) -> MCPAccessToken | None:
        """Return the SDK's `AccessToken` (an `MCPAccessToken`) for a verified token, or None.

        `client_id` is the token's `client_id` (else `azp`, else `sub`): the SDK binds
        sessions to it, so a token with none of the three is refused (None). `scopes` are sorted,
        `expires_at` is `exp` in whole seconds (rounded down), `resource` the `aud` entry
        this server accepted (see `resource_of()`), `subject` the `sub`, and `claims` a
        copy of every claim.
        """
        client_id = token.client_id or token.subject
        if client_id is None:
            _log.debug("token refused: no client_id, azp or sub names its principal")
            return None
        claims = token.claims
        exp = claims.get("exp")  # a finite number when present: the verifier checked it
        return MCPAccessToken(
            token=token.raw,
            client_id=client_id,
            scopes=sorted(token.scopes),
            expires_at=None if exp is None else math.floor(exp),
            resource=self.resource_of(token.audience),
            subject=token.subject,
            # The verifier's claims are a read-only view of a dict: its copy() is a C-level
            # copy of that dict, a tenth of the cost of dict(view), which goes key by key.
            claims=claims.copy() if type(claims) is MappingProxyType else dict(claims),
        )

    def resource_of(self, audience: tuple[str, ...]) -> str | None:
        """Return the entry of a verified token's `aud` that names this server, if one does.

        The entries that name this server are: with `resource=`, that identifier; else,
        for a `TokenVerifier` or `IntrospectionVerifier` with an `audience`, those the
        verifier accepts (its `audience` itself when that is one string); else (another
        `Verifier`, or `audience=None`) every entry. Exactly one such entry is the
        answer; none or several give None, which the SDK's `validate_token_resource`
        refuses. A verifier that accepts several audiences, all of which may share one
        token, therefore needs `resource=` to name the one the SDK compares.
        """
        if len(audience) == 1:  # the usual case, without building a set
            (entry,) = audience
            return entry if self._audiences is None or entry in self._audiences else None
        if self._audiences is None:
            named = set(audience)
        else:
            named = {entry for entry in audience if entry in self._audiences}
        return named.pop() if len(named) == 1 else None

    def __repr__(self) -> str:
        return f"MCPTokenVerifier({self._verifier!r})"


def _audiences_of(verifier: Verifier) -> Collection[str] | None:
    """Return the audiences `verifier` accepts; None when it checks none or cannot say."""
    if isinstance(verifier, TokenVerifier | IntrospectionVerifier):
        audiences: Collection[str] | None = verifier._policy.audiences
        return audiences
    return None


class KeySourceErrorMiddleware:
    """Answer 503 with `Retry-After` when a token cannot be checked, rather than a 500.

    Pure ASGI, for the app of `MCPServer.streamable_http_app()` or any other
    (`app.add_middleware(KeySourceErrorMiddleware)`, or wrap it). A `KeySourceError`
    raised before the response started gets the same 503 `temporarily_unavailable` as
    the adapters send, without `WWW-Authenticate`; anything else propagates unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application; turn a `KeySourceError` before its response into a 503."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except KeySourceError as exc:
            if started:
                raise
            answer = error_response(exc)
            response = JSONResponse(answer.body, answer.status_code, answer.headers)
            await response(scope, receive, send)
