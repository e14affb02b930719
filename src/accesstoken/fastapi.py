"""`BearerAuth`: FastAPI dependencies that verify the request's bearer token.

```python
from fastapi import Depends, FastAPI, Security
from accesstoken import AccessToken
from accesstoken.fastapi import BearerAuth

auth = BearerAuth(verifier)

@app.post("/orders")
def create(token: AccessToken = Security(auth, scopes=["orders:write"])): ...
```

`BearerAuth` is a FastAPI `SecurityBase` with an HTTP bearer model, as `HTTPBearer` is, so
it appears in the OpenAPI schema and Swagger UI's Authorize button works. The dependency is
`async`: it runs on the event loop and calls `verify_async()`, so a key refresh never blocks
the loop, whether the endpoint itself is sync or async.

Errors are raised as `HTTPException`s with `detail={"error", "error_description"}` and the
`WWW-Authenticate` (or `Retry-After`) header, so a plain app answers `{"detail": {...}}`;
`install_error_handlers(app)` switches the app to the flat body the other adapters send.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cached_property
from typing import Any

from ._bearer import authorization_values, query_has_token, token_from_headers
from ._responses import error_response
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError, MissingToken

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

    def __init__(self, error: AccessTokenError, realm: str | None = None) -> None:
        response = error_response(error, realm)
        super().__init__(response.status_code, detail=response.body, headers=response.headers)
        self.token_error = error


class BearerAuth(SecurityBase):
    """A dependency returning the request's verified `AccessToken`.

    Use it with `Depends(auth)`, `Security(auth, scopes=[...])`, `Depends(auth.optional)` or
    `Depends(auth.require("scope", roles=("admin",)))`.

    Args:
        verifier: a `TokenVerifier` or any object with `verify_async()`.
        scopes: scopes this dependency always demands, on top of `Security(scopes=...)`.
        roles: roles this dependency always demands (403 otherwise).
        optional: return None for a request without a token instead of refusing it.
        scheme_name: the security scheme's name in OpenAPI; "BearerAuth" by default.
        description: the security scheme's description in OpenAPI.
        bearer_format: the OpenAPI `bearerFormat` hint shown in Swagger UI.
        realm: the `realm` of the `WWW-Authenticate` challenge, if any.
    """

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
        self.scopes = tuple(scopes)
        self.roles = tuple(roles)
        self.is_optional = optional
        self.realm = realm
        self.description = description
        self.bearer_format = bearer_format
        self.model = HTTPBearerModel(bearerFormat=bearer_format, description=description)
        self.scheme_name = scheme_name or "BearerAuth"

    async def __call__(
        self, request: Request, security_scopes: SecurityScopes
    ) -> AccessToken | None:
        """Return the verified token, or None when optional and no token was sent.

        Raises:
            AccessTokenHTTPException: the token is missing, malformed, invalid or lacks a
                scope or role (400/401/403), or tokens cannot be checked right now (503).
        """
        scope = request.scope  # raw headers: no Starlette `Headers` object built per request
        values = authorization_values(scope["headers"])
        query_token = query_has_token(scope.get("query_string", b""))
        try:
            try:
                raw = token_from_headers(values, query_token=query_token)
            except MissingToken:
                if self.is_optional:
                    return None
                raise
            token = await self.verifier.verify_async(
                raw, scopes=(*self.scopes, *security_scopes.scopes)
            )
            if self.roles:
                token.require_roles(*self.roles)
        except AccessTokenError as exc:
            raise AccessTokenHTTPException(exc, self.realm) from None
        return token

    @cached_property
    def optional(self) -> BearerAuth:
        """The same dependency, returning None for a request without a token."""
        return self._derive(optional=True)

    def require(self, *scopes: str, roles: Collection[str] = ()) -> BearerAuth:
        """Return a dependency that also demands `scopes` (and `roles`), for `Depends()`."""
        return self._derive(scopes=(*self.scopes, *scopes), roles=(*self.roles, *roles))

    def _derive(self, **changes: Any) -> BearerAuth:
        options: dict[str, Any] = {
            "scopes": self.scopes,
            "roles": self.roles,
            "optional": self.is_optional,
            "scheme_name": self.scheme_name,
            "description": self.description,
            "bearer_format": self.bearer_format,
            "realm": self.realm,
        }
        return BearerAuth(self.verifier, **{**options, **changes})


def install_error_handlers(app: FastAPI, *, realm: str | None = None) -> None:
    """Make `app` answer token errors with the flat `{"error", "error_description"}` body.

    Also catches an `AccessTokenError` raised in an endpoint (say, by
    `token.require_roles("admin")`), which would otherwise be a 500.

    Args:
        app: the application.
        realm: the `realm` of `WWW-Authenticate` for errors raised in endpoints.
    """

    async def flat(_request: Request, exc: Exception) -> JSONResponse:
        error = exc.token_error if isinstance(exc, AccessTokenHTTPException) else exc
        if not isinstance(error, AccessTokenError):  # pragma: no cover - registered types only
            raise exc
        response = error_response(error, realm)
        if isinstance(exc, AccessTokenHTTPException):
            response.headers.update(exc.headers or {})
        return JSONResponse(response.body, response.status_code, response.headers)

    app.add_exception_handler(AccessTokenHTTPException, flat)
    app.add_exception_handler(AccessTokenError, flat)
