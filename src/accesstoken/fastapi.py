"""`BearerAuth`: FastAPI dependencies that verify the request's bearer token.

A `SecurityBase` like FastAPI's `HTTPBearer`, so it shows in OpenAPI; `async`, so a key
refresh never blocks the loop. Refusals are `HTTPException`s with `detail={"error",
"error_description"}` and the challenge (`install_error_handlers(app)`: the flat body);
one raised in an endpoint (`token.require_roles("admin")`) is answered alike without setup
(see docs/performance.md for why a handler and not a `yield` dependency).
`install_openapi(app)`, `OAuth2Flows` and `install_error_handlers` (in `_fastapi_app.py`)
are what an app is given once.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from functools import cached_property
from operator import attrgetter

from ._asgi import asgi_carried
from ._authenticate import Guard, Refusal, authenticate_async
from ._resource import ProtectedResource
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError

try:
    from fastapi import Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.openapi.models import OAuth2 as OAuth2Model
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
    from starlette.responses import Response
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accesstoken.fastapi needs FastAPI: pip install 'accesstoken[fastapi]'"
    ) from exc

from ._fastapi_app import (
    AccessTokenHTTPException,
    OAuth2Flows,
    install_error_handlers,
    install_openapi,
)

__all__ = [
    "AccessTokenHTTPException",
    "BearerAuth",
    "OAuth2Flows",
    "install_error_handlers",
    "install_openapi",
]

#: Where Starlette's `ExceptionMiddleware` puts its handlers (a dict by exception class, its
#: own, kept for the app's life) for the request's routes to look up.
_HANDLERS = "starlette.exception_handlers"


class BearerAuth(SecurityBase):
    """A dependency returning the request's verified `AccessToken`.

    Use it with `Depends(auth)`, `Security(auth, scopes=[...])`, `Depends(auth.optional)` or
    `Depends(auth.require("scope", roles=("admin",)))`.

    Args:
        verifier: a `TokenVerifier` or any other `Verifier`.
        scopes: scopes this dependency always demands, on top of `Security(scopes=...)`.
        roles: roles this dependency always demands (403 otherwise).
        optional: return None for a request without a token instead of refusing it.
        scheme_name: the security scheme's name in OpenAPI; "BearerAuth" by default.
        description: the security scheme's description in OpenAPI.
        bearer_format: the OpenAPI `bearerFormat` hint shown in Swagger UI.
        realm: the `realm` of the `WWW-Authenticate` challenge, if any.
        oauth2: declare these OAuth 2.0 flows in OpenAPI instead of an HTTP bearer scheme;
            Swagger UI's Authorize button then gets tokens from the identity provider.
        public_url: the origin clients address ("https://api.example.com") when a proxy
            stands in front: a DPoP proof's `htu` is checked against it, not the `Host`.
        resource: the RFC 9728 metadata, named in every 401 and 403 challenge; serve the
            document with `install_error_handlers(app, resource=resource)`.

    With a verifier that has `dpop=` (read when this is built), the `DPoP` scheme is
    accepted and the verifier is handed the method, URL, `DPoP` header and the client
    certificate of the ASGI TLS extension.
    """

    scopes = property(attrgetter("_guard.scopes"), doc="The scopes always demanded.")
    roles = property(attrgetter("_guard.roles"), doc="The roles always demanded.")
    is_optional = property(attrgetter("_guard.optional"), doc="None for a request without token.")
    realm = property(attrgetter("_guard.realm"), doc="The realm of the challenge.")

    def __init__(
        self,
        verifier: Verifier,
        *,
        scopes: Collection[str] = (),
        roles: Collection[str] = (),
        optional: bool = False,
        scheme_name: str | None = None,
        description: str | None = None,
        bearer_format: str | None = "JWT",
        realm: str | None = None,
        oauth2: OAuth2Flows | None = None,
        public_url: str | None = None,
        resource: ProtectedResource | None = None,
    ) -> None:
        self._root = self  # `optional` and `require()` read the verifier of the one made here
        self._verifier = verifier
        self._guard = Guard.of(
            verifier, optional=optional, realm=realm, resource=resource, public_url=public_url
        ).demanding(scopes, roles)
        self.description = description
        self.bearer_format = bearer_format
        self.oauth2 = oauth2
        self.model: HTTPBearerModel | OAuth2Model = (
            HTTPBearerModel(bearerFormat=bearer_format, description=description)
            if oauth2 is None
            else oauth2.model(description)
        )
        self.scheme_name = scheme_name or "BearerAuth"

    @property
    def verifier(self) -> Verifier:
        """The verifier; setting it changes it for `optional` and every `require()` too."""
        return self._root._verifier

    @verifier.setter
    def verifier(self, verifier: Verifier) -> None:
        self._root._verifier = verifier

    @contextmanager
    def use(self, verifier: Verifier) -> Iterator[None]:
        """Check tokens with `verifier` inside the block (in tests, say), then restore.

        Unlike `app.dependency_overrides[auth]`, every scope and role is still demanded.
        """
        previous, self.verifier = self.verifier, verifier
        try:
            yield
        finally:
            self.verifier = previous

    async def __call__(self, request: Request, scopes: SecurityScopes) -> AccessToken | None:
        """Return the verified token, or None when optional and no token was sent.

        Raises:
            AccessTokenHTTPException: the token is missing, malformed, invalid or lacks a
                scope or role (400/401/403), or tokens cannot be checked right now (503).
        """
        scope = request.scope  # raw ASGI headers: no Starlette `Headers` object per request
        handlers = scope.get(_HANDLERS)
        if handlers is not None and AccessTokenError not in handlers[0]:
            handlers[0][AccessTokenError] = self._in_endpoint
        guard = self._guard
        carried, verifier = asgi_carried(guard, scope), self._root._verifier
        outcome = await authenticate_async(verifier, guard, carried, scopes.scopes)
        if isinstance(outcome, Refusal):
            raise AccessTokenHTTPException(outcome.error, response=outcome.response) from None
        return outcome

    async def _in_endpoint(self, request: Request, exc: Exception) -> Response:
        """Answer an `AccessTokenError` raised in an endpoint as FastAPI answers a refusal."""
        assert isinstance(exc, AccessTokenError)  # the type this handler is registered for
        response = self._guard.refuse(exc).response
        return await http_exception_handler(
            request, AccessTokenHTTPException(exc, response=response)
        )

    @cached_property
    def optional(self) -> BearerAuth:
        """The same dependency, returning None for a request without a token."""
        return self._with(self._guard.demanding(optional=True))

    def require(
        self,
        *scopes: str,
        roles: Collection[str] = (),
        acr_values: str | Collection[str] = (),
        max_age: float | None = None,
    ) -> BearerAuth:
        """Return a dependency that also demands `scopes` (and `roles`), for `Depends()`.

        `acr_values` and `max_age` demand a recent or strong enough sign-in (RFC 9470):
        otherwise 401 `insufficient_user_authentication`, with a challenge saying which.
        """
        guard = self._guard.demanding(scopes, roles, acr_values=acr_values, max_age=max_age)
        return self._with(guard)

    def _with(self, guard: Guard) -> BearerAuth:
        derived = copy.copy(self)
        vars(derived).pop("optional", None)  # `self.optional` when cached: not the copy's
        derived._guard = guard
        return derived
