"""The one authentication step every adapter takes, so that all of them answer alike.

Whatever the framework, a request goes through the same steps in the same order:

1. the raw token from the request's `Authorization` values (`_bearer.token_from_headers`);
   a header sent twice, a malformed one, or a token also in the query string is refused;
2. no token at all: the request passes as anonymous (None) if the guard is optional, and
   is refused with 401 `MissingToken` otherwise;
3. `verify()` or `verify_async()`, demanding the guard's scopes and those of the call;
4. the guard's roles (403 `Forbidden`);
5. an `AccessTokenError` of any step becomes a `Refusal`: the error and its answer
   (`_responses.error_response`: status, RFC 6750 body, `WWW-Authenticate` or `Retry-After`).

An adapter keeps what it demands in a `Guard`, hands what its request `Carried` to
`authenticate()` (sync views) or `authenticate_async()`, and turns a `Refusal` into its
framework's answer: that is all it adds. The two drivers are the only sync/async pair, a few
lines each; every step they share is a function of its own. They are plain functions, not
one generator that both run (`TokenVerifier` chose the same, see docs/performance.md): the
ASGI middleware and the FastAPI dependency run for every request.

Where the next rules go: what a request carries beyond its token (method, URL, a `DPoP`
header, a client certificate: RFC 9449, RFC 8705) joins `Carried` and reaches the verifier
as `request=`; what an adapter demands beyond scopes and roles (`acr_values`, `max_age`:
RFC 9470) joins `Guard` and `Guard.demanding()`; anything every challenge must carry
(RFC 9728's `resource_metadata`) joins `Guard.refuse()`, which words every refusal.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, TypeAlias

from ._bearer import query_has_token, token_from_headers
from ._responses import ErrorResponse, error_response
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError, MissingToken

__all__ = ["Carried", "Guard", "Refusal", "authenticate", "authenticate_async"]

#: What a request carried that authentication reads, as its framework hands it over: every
#: `Authorization` value, in order (bytes, as ASGI gives them, are read as latin-1), and the
#: raw query string (a token there is refused: RFC 6750 §2.3 would leak it into logs).
#: A plain tuple: the ASGI middleware and the FastAPI dependency build one for every
#: request, and a named tuple's construction cost as much as the rest of this module's code.
Carried: TypeAlias = tuple[Sequence[str | bytes], str | bytes]


class Refusal(NamedTuple):
    """A request refused: the error, and the answer every adapter sends for it."""

    error: AccessTokenError
    response: ErrorResponse


@dataclass(frozen=True, slots=True)
class Guard:
    """What an adapter demands of each request it guards, and how it words a refusal."""

    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    optional: bool = False
    """Let a request without any token through, as None (a bad token is still refused)."""
    realm: str | None = None
    """The `realm` of the `WWW-Authenticate` challenge."""

    def demanding(
        self, scopes: Collection[str] = (), roles: Collection[str] = (), **changes: Any
    ) -> Guard:
        """Return this guard demanding `scopes` and `roles` as well, with `changes` made."""
        scopes, roles = (*self.scopes, *scopes), (*self.roles, *roles)
        return replace(self, scopes=scopes, roles=roles, **changes)

    def refuse(self, exc: AccessTokenError) -> Refusal:
        """Return the refusal of a request for `exc`, with this guard's challenge."""
        return Refusal(exc, error_response(exc, self.realm))


def authenticate(
    verifier: Verifier, guard: Guard, carried: Carried, scopes: Collection[str] = ()
) -> AccessToken | Refusal | None:
    """Return the request's verified token, None (optional, no token) or its refusal.

    `scopes` are demanded on top of the guard's (FastAPI's `Security(scopes=...)`). Only
    `AccessTokenError`s become refusals; anything else (a bug) propagates.
    """
    try:
        raw = _raw_token(carried, guard)
        if raw is None:
            return None
        return _granted(verifier.verify(raw, _demanded(guard, scopes)), guard)
    except AccessTokenError as exc:
        return guard.refuse(exc)


async def authenticate_async(
    verifier: Verifier, guard: Guard, carried: Carried, scopes: Collection[str] = ()
) -> AccessToken | Refusal | None:
    """Return what `authenticate()` does, verifying without blocking the event loop."""
    try:
        raw = _raw_token(carried, guard)
        if raw is None:
            return None
        return _granted(await verifier.verify_async(raw, _demanded(guard, scopes)), guard)
    except AccessTokenError as exc:
        return guard.refuse(exc)


def _raw_token(carried: Carried, guard: Guard) -> str | None:
    """Return the request's bearer token; None when it has none and the guard allows that."""
    authorization, query = carried
    try:
        return token_from_headers(authorization, query_token=bool(query) and query_has_token(query))
    except MissingToken:
        if guard.optional:
            return None
        raise


def _demanded(guard: Guard, scopes: Collection[str]) -> Collection[str]:
    """Return the scopes to demand: the guard's, and the call's when it has any."""
    return (*guard.scopes, *scopes) if scopes else guard.scopes


def _granted(token: AccessToken, guard: Guard) -> AccessToken:
    """Return `token` once it has the guard's roles.

    Raises:
        Forbidden: a role is missing.
    """
    if guard.roles:
        token.require_roles(*guard.roles)
    return token
