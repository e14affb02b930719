"""`BearerBackend`: bearer tokens for Starlette's own `AuthenticationMiddleware`.

```python
app = Starlette(routes=..., middleware=[
    Middleware(AuthenticationMiddleware, backend=BearerBackend(verifier),
               on_error=BearerBackend.on_error)])
```

`request.user` is a `TokenUser` and `request.auth.scopes` the token's scopes plus
"authenticated" (as Starlette's own backends do), so that `@requires("orders:read")` works.
A request without a token gets Starlette's `UnauthenticatedUser`. Unlike
`accesstoken.asgi.AccessTokenMiddleware`, which refuses requests itself, this backend leaves
the decision to the endpoints; only a token that is present but invalid is refused, by
`on_error`, with the answer every adapter sends.
"""

from __future__ import annotations

from ._asgi import asgi_carried
from ._authenticate import Guard, Refusal, authenticate_async
from ._resource import ProtectedResource
from ._token import AccessToken
from ._user import TokenUser
from ._verifier import Verifier

try:
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        BaseUser,
    )
    from starlette.requests import HTTPConnection
    from starlette.responses import JSONResponse, PlainTextResponse, Response
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accesstoken.starlette needs Starlette: pip install 'accesstoken[starlette]'"
    ) from exc

__all__ = ["BearerBackend", "TokenAuthenticationError"]


class TokenAuthenticationError(AuthenticationError):
    """The request's token was refused: `refusal` holds the error and its answer."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.error.description)
        self.refusal = refusal


class BearerBackend(AuthenticationBackend):
    """Authenticate a connection by its bearer token, with `verify_async()`.

    Args:
        verifier: a `TokenVerifier` or any other `Verifier`.
        realm: the `realm` of the `WWW-Authenticate` challenge, if any.
        public_url: the origin clients address ("https://api.example.com") when a proxy
            stands in front: a DPoP proof's `htu` is checked against it, not the `Host`.
        resource: the RFC 9728 metadata named in every 401 and 403 challenge of `on_error`.
            This backend serves no route: serve the document yourself (or use
            `accesstoken.asgi.AccessTokenMiddleware`, which does).

    With a verifier that has `dpop=` (read when this is built), the `DPoP` scheme is
    accepted and the verifier is handed the method, URL, `DPoP` header and the client
    certificate of the ASGI TLS extension.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str | None = None,
        public_url: str | None = None,
        resource: ProtectedResource | None = None,
    ) -> None:
        self.verifier = verifier
        self._guard = Guard.of(
            verifier, optional=True, realm=realm, resource=resource, public_url=public_url
        )

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """Return the credentials and user of a valid token; None without a token.

        Raises:
            TokenAuthenticationError: the token is malformed or invalid (400/401), or tokens
                cannot be checked right now (503).
        """
        guard = self._guard
        outcome = await authenticate_async(self.verifier, guard, asgi_carried(guard, conn.scope))
        if isinstance(outcome, Refusal):
            raise TokenAuthenticationError(outcome)
        return None if outcome is None else _credentials(outcome)

    @staticmethod
    def on_error(conn: HTTPConnection, exc: Exception) -> Response:
        """Answer a refused token with its RFC 6750 JSON body, status and headers.

        Another backend's `AuthenticationError` gets Starlette's default answer.
        """
        if not isinstance(exc, TokenAuthenticationError):
            return PlainTextResponse(str(exc), status_code=400)
        answer = exc.refusal.response
        return JSONResponse(answer.body, answer.status_code, answer.headers)


class _User(TokenUser, BaseUser):
    """A `TokenUser` that is also a Starlette `BaseUser`, for code that checks `isinstance`."""


def _credentials(token: AccessToken) -> tuple[AuthCredentials, BaseUser]:
    return AuthCredentials([*token.scopes, "authenticated"]), _User(token)
