"""`TokenUser`: a verified token dressed as the user object that frameworks expect.

Django (`request.user`, DRF's `IsAuthenticated`, throttling by `pk`) and Starlette
(`BaseUser`: `is_authenticated`, `display_name`, `identity`) read a user by duck typing, so
one small class serves both, and the core imports neither framework.
"""

from __future__ import annotations

from ._token import AccessToken

__all__ = ["TokenUser"]


class TokenUser:
    """The caller named by a verified `AccessToken`: its `sub`, else its `client_id`.

    A token is not a database row: `pk` and `id` are the identity string, there is no
    password, and `is_anonymous` is always False (anonymous requests get the framework's own
    anonymous user).
    """

    __slots__ = ("token",)

    is_authenticated = True
    is_anonymous = False

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    @property
    def identity(self) -> str:
        """The token's `sub`, else its `client_id` (a machine-to-machine token); else ""."""
        return self.token.subject or self.token.client_id or ""

    username = pk = id = display_name = identity

    @property
    def scopes(self) -> frozenset[str]:
        """The token's scopes."""
        return self.token.scopes

    @property
    def roles(self) -> frozenset[str]:
        """The token's roles."""
        return self.token.roles

    def get_username(self) -> str:
        """Return `username`, as Django's `AbstractBaseUser.get_username()` does."""
        return self.identity

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __str__(self) -> str:
        return self.identity

    def __repr__(self) -> str:
        return f"TokenUser({self.identity!r})"
