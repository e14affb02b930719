"""Django REST framework: `BearerAuthentication` and `HasScopes`, exported by `.django`.

DRF words its own bodies (`{"detail": ...}`), so only the status and headers come from the
shared answer. Refusals are raised as `TokenRefused`, an `APIException` carrying that answer:
DRF's exception handler copies its `auth_header` into `WWW-Authenticate` and its `wait` into
`Retry-After`, for any status. Raising DRF's `AuthenticationFailed` instead would make every
refusal a 401 with one fixed challenge (`authenticate_header()`), losing 400 and 503.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ._authenticate import Guard, Refusal, authenticate
from ._token import AccessToken
from ._user import TokenUser
from .django import gate
from .errors import TokenError

__all__ = ["BearerAuthentication", "HasScopes", "TokenRefused"]

# The project's verifier, resource, public URL and DPoP options; no token: DRF's anonymous user.
_GATE = gate(Guard(optional=True))


class TokenRefused(APIException):
    """A refused token, answered with its RFC 6750 status, description and headers."""

    def __init__(self, refusal: Refusal) -> None:
        answer = refusal.response
        super().__init__(refusal.error.description, code=refusal.error.error)
        self.status_code = answer.status_code
        self.auth_header = answer.headers.get("WWW-Authenticate")
        self.wait = int(answer.headers["Retry-After"]) if "Retry-After" in answer.headers else None


class BearerAuthentication(BaseAuthentication):
    """Authenticate a DRF request by its bearer token: `(TokenUser, AccessToken)`.

    No `Authorization` header: None, so the request goes on as DRF's anonymous user.
    """

    def authenticate(self, request: Request) -> tuple[TokenUser, AccessToken] | None:
        outcome = authenticate(*_GATE((request._request,)))
        if isinstance(outcome, Refusal):
            raise TokenRefused(outcome)
        return None if outcome is None else (TokenUser(outcome), outcome)

    def authenticate_header(self, request: Request) -> str:
        """Return the challenge of a 401 for a request that sent no token."""
        return "Bearer"


class HasScopes(BasePermission):
    """Allow a request whose token has the view's `required_scopes` (and `required_roles`).

    An anonymous request is refused as DRF refuses it (401 with the challenge); a token
    without a scope gets 403 `insufficient_scope` naming the scopes.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            return False
        try:
            token.require_scopes(*getattr(view, "required_scopes", ()))
            token.require_roles(*getattr(view, "required_roles", ()))
        except TokenError as exc:
            raise TokenRefused(Guard().refuse(exc)) from None
        return True
