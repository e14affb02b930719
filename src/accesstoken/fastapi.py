"""`BearerAuth`: FastAPI dependencies that verify the request's bearer token.

A `SecurityBase` with an HTTP bearer model, as FastAPI's `HTTPBearer` is, so it shows in the
OpenAPI schema and Swagger UI's Authorize button works. The dependency is `async` and calls
`verify_async()`: a key refresh never blocks the loop, whether the endpoint is sync or async.
Refusals are `HTTPException`s with `detail={"error", "error_description"}` and the
`WWW-Authenticate` (or `Retry-After`) header; `install_error_handlers(app)` switches the app to
the flat body the other adapters send.

`install_openapi(app)` completes the OpenAPI schema: each guarded operation's scopes (those
of `auth.require()` too), its 401/403/503 answers, and `{}` beside an optional one.
`BearerAuth(verifier, oauth2=OAuth2Flows.from_discovery(issuer))` declares the identity
provider's OAuth 2.0 flows instead of a bare bearer scheme, so that Swagger UI's Authorize
button fetches real tokens.

An `AccessTokenError` raised inside an endpoint (`token.require_roles("admin")`) is answered
like a refusal of the dependency, without any setup: the first request through a
`BearerAuth` adds a handler for it to the app's exception handlers, unless the app has one.
A dependency with `yield` could catch it too, but FastAPI wraps each such dependency in an
async context manager and a cancel scope: tens of µs on every request, where a dictionary
lookup costs well under one.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any

from typing_extensions import Unpack

from ._authenticate import Guard, Refusal, authenticate_async
from ._bearer import authorization_values
from ._keys.discovery import check_issuer, metadata_document, required
from ._remote.flow import run
from ._remote.settings import RemoteOptions, RemoteSettings
from ._responses import ErrorResponse
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError

try:
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.openapi.models import OAuth2 as OAuth2Model
    from fastapi.openapi.models import (
        OAuthFlowAuthorizationCode,
        OAuthFlowClientCredentials,
        OAuthFlows,
    )
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
    from starlette.responses import Response
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accesstoken.fastapi needs FastAPI: pip install 'accesstoken[fastapi]'"
    ) from exc

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


@dataclass(frozen=True)
class OAuth2Flows:
    """The OAuth 2.0 flows of an identity provider, for the OpenAPI schema and Swagger UI.

    The authorization code flow (Swagger UI adds PKCE, see `swagger_ui_init_oauth()`) when
    there is an `authorization_url`, and the client credentials flow.

    Args:
        token_url: the token endpoint.
        authorization_url: the authorization endpoint, if the provider has one.
        scopes: each scope Swagger UI offers, with its description.
    """

    token_url: str
    authorization_url: str | None = None
    scopes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_metadata(
        cls, metadata: Mapping[str, Any], scopes: Mapping[str, str] | Collection[str] | None = None
    ) -> OAuth2Flows:
        """Return the flows of a discovery document (RFC 8414 or OpenID Connect).

        `scopes` are the scopes to offer, as names or with descriptions; the document's
        `scopes_supported` when None.

        Raises:
            ValueError: the document has no `token_endpoint`.
        """
        token_url = metadata.get("token_endpoint")
        if not isinstance(token_url, str):
            raise ValueError("the metadata document has no token_endpoint")
        authorization_url = metadata.get("authorization_endpoint")
        if scopes is None:
            scopes = metadata.get("scopes_supported") or ()
        if not isinstance(scopes, Mapping):
            scopes = dict.fromkeys(scopes, "")
        return cls(
            token_url,
            authorization_url if isinstance(authorization_url, str) else None,
            dict(scopes),
        )

    @classmethod
    def from_discovery(
        cls,
        issuer: str,
        *,
        scopes: Mapping[str, str] | Collection[str] | None = None,
        **options: Unpack[RemoteOptions],
    ) -> OAuth2Flows:
        """Read `issuer`'s discovery document now and return its flows; see `from_metadata()`.

        The document is found and checked as `OIDCDiscovery` does it, with the same
        `options` (`timeout`, ...).

        Raises:
            KeySourceUnavailable: the document could not be read, names another issuer, or
                has no usable `token_endpoint`.
        """
        settings = RemoteSettings.of(options)
        document = metadata_document(check_issuer(issuer), "token_endpoint", settings, cls)
        return cls.from_metadata(required(run(document.get())), scopes)

    def model(self, description: str | None = None) -> OAuth2Model:
        """Return the OpenAPI security scheme of these flows."""
        scopes = dict(self.scopes)
        code = None
        if self.authorization_url is not None:
            code = OAuthFlowAuthorizationCode(
                authorizationUrl=self.authorization_url, tokenUrl=self.token_url, scopes=scopes
            )
        credentials = OAuthFlowClientCredentials(tokenUrl=self.token_url, scopes=scopes)
        flows = OAuthFlows(authorizationCode=code, clientCredentials=credentials)
        return OAuth2Model(flows=flows, description=description)

    def swagger_ui_init_oauth(self, client_id: str) -> dict[str, Any]:
        """Return Swagger UI's OAuth settings for `FastAPI(swagger_ui_init_oauth=...)`.

        `client_id` is a public client registered with the provider, whose redirect URI is
        the app's `/docs/oauth2-redirect`; the authorization code flow uses PKCE.
        """
        return {
            "clientId": client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            "scopes": " ".join(self.scopes),
        }


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
    ) -> None:
        self._root = self  # `optional` and `require()` read the verifier of the one made here
        self._verifier = verifier
        self._guard = Guard(optional=optional, realm=realm).demanding(scopes, roles)
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
        carried = (authorization_values(scope["headers"]), scope.get("query_string", b""))
        verifier = self._root._verifier
        outcome = await authenticate_async(verifier, self._guard, carried, scopes.scopes)
        if isinstance(outcome, Refusal):
            raise AccessTokenHTTPException(outcome.error, response=outcome.response) from None
        return outcome

    async def _in_endpoint(self, request: Request, exc: Exception) -> Response:
        """Answer an `AccessTokenError` raised in an endpoint as FastAPI answers a refusal."""
        assert isinstance(exc, AccessTokenError)  # the type this handler is registered for
        return await http_exception_handler(request, AccessTokenHTTPException(exc, self.realm))

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

    Also renders an `AccessTokenError` raised in an endpoint (say, by
    `token.require_roles("admin")`) with that body; without it, `BearerAuth` answers one
    with FastAPI's `{"detail": ...}` body.

    `realm` is the `realm` of `WWW-Authenticate` for errors raised in endpoints.
    """

    async def flat(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, AccessTokenError):  # raised in an endpoint
            exc = AccessTokenHTTPException(exc, realm)
        assert isinstance(exc, AccessTokenHTTPException)  # the only other type registered
        return JSONResponse(exc.detail, exc.status_code, exc.headers)

    app.add_exception_handler(AccessTokenHTTPException, flat)
    app.add_exception_handler(AccessTokenError, flat)


#: RFC 6750 §3's error body, as the schema of the refusals `install_openapi()` declares.
_TOKEN_ERROR: dict[str, Any] = {
    "title": "TokenError",
    "type": "object",
    "description": "RFC 6750 §3. No `error` when the request carried no token at all.",
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_token",
                "insufficient_scope",
                "temporarily_unavailable",
            ],
        },
        "error_description": {"type": "string"},
    },
}
_REFUSALS = {
    "401": ("No access token, or an expired or invalid one.", "WWW-Authenticate"),
    "403": ("The access token lacks a scope or a role.", "WWW-Authenticate"),
    "503": ("Access tokens cannot be checked right now: try again later.", "Retry-After"),
}


def install_openapi(app: FastAPI) -> None:
    """Complete `app`'s OpenAPI schema for the operations a `BearerAuth` guards.

    FastAPI lists the scheme of each and the scopes of `Security(auth, scopes=[...])`; this
    adds the scopes of `auth.require(...)`, an empty requirement `{}` beside an optional
    guard (`auth.optional`: a request without a token is served too), and the 401, 403
    and 503 answers with their RFC 6750 body (nested in `detail` unless
    `install_error_handlers(app)` was called), unless the operation declares them.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe(app, generate())
        return app.openapi_schema  # type: ignore[return-value]  # set by generate()

    app.openapi_schema = None
    app.openapi = openapi  # type: ignore[method-assign]


def _describe(app: FastAPI, schema: dict[str, Any]) -> None:
    """Add the refusals and scopes of each guarded operation to `schema`, in place."""
    body: dict[str, Any] = {"$ref": "#/components/schemas/TokenError"}
    if AccessTokenHTTPException not in app.exception_handlers:  # FastAPI's `detail` body
        body = {"type": "object", "properties": {"detail": body}, "required": ["detail"]}
    guarded = False
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        guards = list(dict.fromkeys(_guards(route.dependant)))
        if not guards:
            continue
        guarded = True
        for method in route.methods or ():
            _describe_operation(schema["paths"][route.path_format][method.lower()], guards, body)
    if guarded:
        schema.setdefault("components", {}).setdefault("schemas", {})["TokenError"] = _TOKEN_ERROR


def _guards(dependant: Any) -> Iterator[BearerAuth]:
    """Yield each `BearerAuth` of a route's dependency tree."""
    for sub in dependant.dependencies:
        if isinstance(sub.call, BearerAuth):
            yield sub.call
        yield from _guards(sub)


def _describe_operation(
    operation: dict[str, Any], guards: list[BearerAuth], body: dict[str, Any]
) -> None:
    security: list[dict[str, list[str]]] = operation.setdefault("security", [])
    for guard in guards:
        for requirement in security:
            scopes = requirement.get(guard.scheme_name)
            if scopes is not None:
                scopes.extend(s for s in guard.scopes if s not in scopes)
    if all(guard.is_optional for guard in guards) and {} not in security:
        security.append({})
    responses = operation.setdefault("responses", {})
    for status, (description, header) in _REFUSALS.items():
        responses.setdefault(
            status,
            {
                "description": description,
                "headers": {header: {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": body}},
            },
        )
