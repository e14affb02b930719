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
framework's answer: that is all it adds. The two drivers are a sync/async pair of a few
lines each (as are the view wrappers of `_wsgi.py` that call them); every step they share is
a function of its own. They are plain functions, not one generator that both run
(`TokenVerifier` chose the same, see docs/performance.md): every guarded request runs them.

Where the next rules go: what a request carries beyond its token (method, URL, a `DPoP`
header, a client certificate: RFC 9449, RFC 8705) joins `Carried` and reaches the verifier
as `request=`; what an adapter demands beyond scopes and roles (`acr_values`, `max_age`:
RFC 9470) joins `Guard` and `Guard.demanding()`; anything every challenge must carry
(RFC 9728's `resource_metadata`) joins `Guard.refuse()`, which words every refusal.

Those rules are in place. A request's facts reach the verifier as a `RequestContext`
that the adapter builds only when there is something to check (`needs_request()`: a
`DPoP` header, the `DPoP` scheme, a client certificate), from the URL of `Guard.url()`; a
plain bearer request builds nothing more than before. `acr_values` and `max_age` are
passed only when set, so an application's own `Verifier` taking `(raw, scopes)` still
works.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, TypeAlias

from ._bearer import is_dpop_scheme, query_has_token, token_from_headers
from ._dpop import DPoP, RequestContext
from ._resource import ProtectedResource
from ._responses import ErrorResponse, error_response
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError, InvalidDPoPProof, MissingToken

__all__ = [
    "Carried",
    "Guard",
    "Refusal",
    "authenticate",
    "authenticate_async",
    "dpop_options",
    "needs_request",
]

#: What a request carried that authentication reads, as its framework hands it over: every
#: `Authorization` value, in order (bytes, as ASGI gives them, are read as latin-1), the
#: raw query string (a token there is refused: RFC 6750 §2.3 would leak it into logs), and
#: the `RequestContext` for the verifier when there is one (`needs_request()`).
#: A plain tuple: the ASGI middleware and the FastAPI dependency build one for every
#: request, and a named tuple's construction cost as much as the rest of this module's code.
Carried: TypeAlias = tuple[Sequence[str | bytes], str | bytes, RequestContext | None]


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
    acr_values: tuple[str, ...] = ()
    """The authentication context classes a token's `acr` must be one of (RFC 9470)."""
    max_age: float | None = None
    """The oldest `auth_time` accepted, in seconds (RFC 9470)."""
    resource: ProtectedResource | None = None
    """Named by `resource_metadata` in every 401 and 403 challenge (RFC 9728 §5.1)."""
    public_url: str | None = None
    """The origin clients address ("https://api.example.com"), behind a proxy."""
    dpop: DPoP | None = None
    """The verifier's DPoP options: with them the `DPoP` scheme is accepted and challenged."""
    step_up: bool = field(init=False, repr=False, compare=False)
    """Whether `acr_values` or `max_age` is set: one test on the path of every request."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_up", bool(self.acr_values) or self.max_age is not None)

    @classmethod
    def of(cls, verifier: object, **fields: Any) -> Guard:
        """Return the guard of an adapter built for `verifier`, taking its DPoP options."""
        return cls(dpop=dpop_options(verifier), **fields)

    def demanding(
        self,
        scopes: Collection[str] = (),
        roles: Collection[str] = (),
        *,
        acr_values: str | Collection[str] = (),
        max_age: float | None = None,
        **changes: Any,
    ) -> Guard:
        """Return this guard demanding `scopes`, `roles` and `acr_values` as well, with
        `changes` made; `max_age`, when given, replaces the guard's."""
        scopes, roles = (*self.scopes, *scopes), (*self.roles, *roles)
        if isinstance(acr_values, str):
            acr_values = (acr_values,)
        if acr_values:
            changes["acr_values"] = (*self.acr_values, *acr_values)
        if max_age is not None:
            changes["max_age"] = max_age
        return replace(self, scopes=scopes, roles=roles, **changes)

    def refuse(self, exc: AccessTokenError) -> Refusal:
        """Return the refusal of a request for `exc`, with this guard's challenges.

        With a `resource`, each 401 and 403 challenge names its metadata; with DPoP
        accepted, a `DPoP` challenge stands beside the `Bearer` one (RFC 9449 §7.2), first
        when the proof was at fault. A 503 carries no challenge at all.
        """
        response = error_response(exc, self.realm)
        if self.resource is None and self.dpop is None:
            return Refusal(exc, response)
        challenge = response.headers.get("WWW-Authenticate")
        if challenge is None:
            return Refusal(exc, response)
        if isinstance(exc, InvalidDPoPProof):
            challenges = [challenge, MissingToken().www_authenticate(self.realm)]
        elif self.dpop is not None:
            challenges = [challenge, self.dpop.challenge(self.realm)]
        else:
            challenges = [challenge]
        resource = self.resource
        if resource is not None and response.status_code in (401, 403):
            challenges = [resource.add_to_challenge(each) for each in challenges]
        response.headers["WWW-Authenticate"] = ", ".join(challenges)
        return Refusal(exc, response)

    def url(self, scheme: str, host: str | None, path: str, query: str = "") -> str:
        """Return the URL a request addressed, for its DPoP proof's `htu`.

        `path` and `query` are the raw ones the client sent, never a decoded path. Behind
        a proxy, `public_url` gives the origin; else `scheme` and the `Host` header do.
        """
        origin = self.public_url if self.public_url is not None else f"{scheme}://{host or ''}"
        url = origin.rstrip("/") + (path or "/")
        return f"{url}?{query}" if query else url


def dpop_options(verifier: object) -> DPoP | None:
    """Return a verifier's DPoP options: None when it does not accept DPoP (or has none)."""
    dpop = getattr(verifier, "_dpop", None)
    return dpop if isinstance(dpop, DPoP) else None


def needs_request(
    guard: Guard,
    authorization: Sequence[str | bytes],
    dpop: object,
    certificate: object,
) -> bool:
    """Return whether a request carries anything for the verifier beyond its token.

    Only then is a `RequestContext` built: a `DPoP` header, a client certificate, or the
    `DPoP` scheme (whose missing proof the verifier must report).
    """
    if dpop or certificate is not None:
        return True
    return guard.dpop is not None and len(authorization) == 1 and is_dpop_scheme(authorization[0])


def authenticate(
    verifier: Verifier, guard: Guard, carried: Carried, scopes: Collection[str] = ()
) -> AccessToken | Refusal | None:
    """Return the request's verified token, None (optional, no token) or its refusal.

    `scopes` are demanded on top of the guard's (FastAPI's `Security(scopes=...)`). Only
    `AccessTokenError`s become refusals; anything else (a bug) propagates.
    """
    try:
        call = _verify_call(guard, carried, scopes)
        if call is None:
            return None
        raw, demanded, keywords = call
        return _granted(verifier.verify(raw, demanded, **keywords), guard)
    except AccessTokenError as exc:
        return guard.refuse(exc)


async def authenticate_async(
    verifier: Verifier, guard: Guard, carried: Carried, scopes: Collection[str] = ()
) -> AccessToken | Refusal | None:
    """Return what `authenticate()` does, verifying without blocking the event loop."""
    try:
        call = _verify_call(guard, carried, scopes)
        if call is None:
            return None
        raw, demanded, keywords = call
        return _granted(await verifier.verify_async(raw, demanded, **keywords), guard)
    except AccessTokenError as exc:
        return guard.refuse(exc)


# The keywords of a plain bearer call: none, so that a `Verifier` taking `(raw, scopes)` works.
_NO_KEYWORDS: dict[str, Any] = {}


def _verify_call(
    guard: Guard, carried: Carried, scopes: Collection[str]
) -> tuple[str, Collection[str], dict[str, Any]] | None:
    """Return the arguments of the verifier's call; None for no token where that is allowed.

    Raises:
        AccessTokenError: the request's `Authorization` values are refused (`_raw_token()`).
    """
    raw = _raw_token(carried, guard)
    if raw is None:
        return None
    demanded = (*guard.scopes, *scopes) if scopes else guard.scopes
    request = carried[2]
    if request is None and not guard.step_up:
        return raw, demanded, _NO_KEYWORDS
    return raw, demanded, _keywords(guard, request)


def _keywords(guard: Guard, request: RequestContext | None) -> dict[str, Any]:
    """Return the keywords beyond scopes for `verify()`: only those that are set."""
    keywords: dict[str, Any] = {}
    if request is not None:
        keywords["request"] = request
    if guard.acr_values:
        keywords["acr_values"] = guard.acr_values
    if guard.max_age is not None:
        keywords["max_age"] = guard.max_age
    return keywords


def _raw_token(carried: Carried, guard: Guard) -> str | None:
    """Return the request's bearer token; None when it has none and the guard allows that."""
    authorization, query, _ = carried
    try:
        query_token = bool(query) and query_has_token(query)
        return token_from_headers(
            authorization, query_token=query_token, dpop=guard.dpop is not None
        )
    except MissingToken:
        if guard.optional:
            return None
        raise


def _granted(token: AccessToken, guard: Guard) -> AccessToken:
    """Return `token` once it has the guard's roles.

    Raises:
        Forbidden: a role is missing.
    """
    if guard.roles:
        token.require_roles(*guard.roles)
    return token
