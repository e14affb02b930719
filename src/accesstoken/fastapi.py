"""`BearerAuth`: FastAPI dependencies that verify the request's bearer token.

A `SecurityBase` with an HTTP bearer model, as FastAPI's `HTTPBearer` is, so it shows in the
OpenAPI schema and Swagger UI's Authorize button works. The dependency is `async` and calls
`verify_async()`: a key refresh never blocks the loop, whether the endpoint is sync or async.
Refusals are `HTTPException`s with `detail={"error", "error_description"}` and the
`WWW-Authenticate` (or `Retry-After`) header; `install_error_handlers(app)` switches the app to
the flat body the other adapters send.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from functools import cached_property
from operator import attrgetter

from ._authenticate import Guard, Refusal, authenticate_async
from ._bearer import authorization_values
from ._responses import ErrorResponse
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError

try:
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.responses import JSONResponse
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accesstoken.fastapi needs FastAPI: pip install 'accesstoken[fastapi]'"
    ) from exc

__all__ = ["AccessTokenHTTPException", "BearerAuth", "install_error_handlers"]


class AccessTokenHTTPException(HTTPException):
    """An `HTTPException` that remembers the error it reports, for `install_error_handlers`."""

    def __init__(
        self,
        error: AccessTokenError,
        realm: str | None = None,
        *,
        response: ErrorResponse | None = None,
    ) -> None:
        response = response or Guard(realm=realm).refuse(error).response
        super().__init__(response.status_code, detail=response.body, headers=response.headers)
        self.token_error = error


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
    ) -> None:
        self.verifier = verifier
        self._guard = Guard(optional=optional, realm=realm).demanding(scopes, roles)
        self.description = description
        self.bearer_format = bearer_format
        self.model = HTTPBearerModel(bearerFormat=bearer_format, description=description)
        self.scheme_name = scheme_name or "BearerAuth"

    async def __call__(self, request: Request, scopes: SecurityScopes) -> AccessToken | None:
        """Return the verified token, or None when optional and no token was sent.

        Raises:
            AccessTokenHTTPException: the token is missing, malformed, invalid or lacks a
                scope or role (400/401/403), or tokens cannot be checked right now (503).
        """
        scope = request.scope  # raw ASGI headers: no Starlette `Headers` object per request
        carried = (authorization_values(scope["headers"]), scope.get("query_string", b""))
        outcome = await authenticate_async(self.verifier, self._guard, carried, scopes.scopes)
        if isinstance(outcome, Refusal):
            raise AccessTokenHTTPException(outcome.error, response=outcome.response) from None
        return outcome

    @cached_property
    def optional(self) -> BearerAuth:
        """The same dependency, returning None for a request without a token."""
        return self._with(self._guard.demanding(optional=True))

    def require(self, *scopes: str, roles: Collection[str] = ()) -> BearerAuth:
        """Return a dependency that also demands `scopes` (and `roles`), for `Depends()`."""
        return self._with(self._guard.demanding(scopes, roles))

    def _with(self, guard: Guard) -> BearerAuth:
        derived = copy.copy(self)
        vars(derived).pop("optional", None)  # `self.optional` when cached: not the copy's
        derived._guard = guard
        return derived


def install_error_handlers(app: FastAPI, *, realm: str | None = None) -> None:
    """Make `app` answer token errors with the flat `{"error", "error_description"}` body.

    Also answers an `AccessTokenError` raised in an endpoint (say, by `require_roles()`),
    which would otherwise be a 500, with `realm` in its challenge.
    """

    async def flat(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, AccessTokenError):  # raised in an endpoint
            exc = AccessTokenHTTPException(exc, realm)
        assert isinstance(exc, AccessTokenHTTPException)  # the only other type registered
        return JSONResponse(exc.detail, exc.status_code, exc.headers)

    app.add_exception_handler(AccessTokenHTTPException, flat)
    app.add_exception_handler(AccessTokenError, flat)
