"""What `accesstoken.fastapi` gives a FastAPI app once: error handlers, and an OpenAPI schema.

`install_error_handlers()` renders `AccessTokenHTTPException` (what the dependency raises)
with the flat RFC 6750 body; `install_openapi()` and `OAuth2Flows` make the schema say what
each guarded operation demands and how it refuses, with OAuth 2.0 flows for Swagger UI.
Kept apart from the dependency itself, which runs on every request; this runs when the app
is set up or its schema built. Every name is re-exported by `accesstoken.fastapi`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import (
    OAuthFlowAuthorizationCode,
    OAuthFlowClientCredentials,
    OAuthFlows,
)
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from typing_extensions import Unpack

from ._authenticate import Guard
from ._keys.discovery import check_issuer, metadata_document, required
from ._remote.flow import run
from ._remote.settings import RemoteOptions, RemoteSettings
from ._resource import ProtectedResource
from ._responses import ErrorResponse
from .errors import AccessTokenError

if TYPE_CHECKING:
    from .fastapi import BearerAuth

__all__ = ["AccessTokenHTTPException", "OAuth2Flows", "install_error_handlers", "install_openapi"]


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
    from .fastapi import AccessTokenHTTPException  # here: that module imports this one

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
    from .fastapi import BearerAuth  # here: that module imports this one

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


def install_error_handlers(
    app: FastAPI, *, realm: str | None = None, resource: ProtectedResource | None = None
) -> None:
    """Make `app` answer token errors with the flat `{"error", "error_description"}` body.

    With `resource`, `app` also answers `GET resource.metadata_path` with the RFC 9728
    document, without authentication, and errors raised in endpoints name it in their
    challenge.

    Also renders an `AccessTokenError` raised in an endpoint (say, by
    `token.require_roles("admin")`) with that body; without it, `BearerAuth` answers one
    with FastAPI's `{"detail": ...}` body.

    `realm` is the `realm` of `WWW-Authenticate` for errors raised in endpoints.
    """

    guard = Guard(realm=realm, resource=resource)

    async def flat(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, AccessTokenError):  # raised in an endpoint
            exc = AccessTokenHTTPException(exc, response=guard.refuse(exc).response)
        assert isinstance(exc, AccessTokenHTTPException)  # the only other type registered
        return JSONResponse(exc.detail, exc.status_code, exc.headers)

    app.add_exception_handler(AccessTokenHTTPException, flat)
    app.add_exception_handler(AccessTokenError, flat)
    if resource is not None:
        document = resource.metadata()

        async def metadata() -> JSONResponse:
            return JSONResponse(document)

        app.add_api_route(
            resource.metadata_path, metadata, methods=["GET"], include_in_schema=False
        )
