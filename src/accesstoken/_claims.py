"""One small, pure function per claim rule (RFC 7519 §4.1, RFC 9068, RFC 8693 §4.2).

Every function is given what it checks and, where time matters, `now`: no clock is read
here. Each returns the value it vouches for, or raises one `InvalidToken` subclass whose
description names the claim but never repeats its value.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Final, TypeGuard

from .errors import (
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidTokenType,
    MissingClaim,
    TokenExpired,
    TokenNotYetValid,
)

__all__ = [
    "check_audience",
    "check_issuer",
    "check_present",
    "check_strings",
    "check_times",
    "check_type",
    "normalize_type",
    "read_date",
    "read_roles",
    "read_scopes",
]

# The largest instant a `datetime` can hold (9999-12-31T23:59:59Z). A date beyond it cannot
# be represented to the application, so it is refused rather than silently clamped.
MAX_TIMESTAMP: Final = 253_402_300_799
# Empty items of a space-separated list ("a  b", " a"): not scopes.
_NO_ITEM: Final = frozenset(("",))
# Claims exposed as `str | None` attributes of AccessToken: each must be a string if present.
_STRING_CLAIMS: Final = ("sub", "jti", "client_id", "azp")
_ABSENT_AS_STRING: Final = ("",) * len(_STRING_CLAIMS)
_ONLY_STR: Final = frozenset((str,))


def is_numeric_date(value: object) -> TypeGuard[int | float]:
    """Return whether `value` is a NumericDate (RFC 7519 §2): a finite JSON number.

    `bool` is an `int` in Python but `true` is not a number in JSON; an `exp` of NaN would
    never expire, and an `exp` of 1e300 cannot be shown as a date.
    """
    if type(value) is int:
        return 0 <= value <= MAX_TIMESTAMP
    if type(value) is float:
        return math.isfinite(value) and 0 <= value <= MAX_TIMESTAMP
    return False


def check_present(claims: Mapping[str, Any], required: Collection[str]) -> None:
    """Raise `MissingClaim` unless every name in `required` is a claim."""
    for name in required:
        if name not in claims:
            raise MissingClaim(f'The access token lacks the required "{name}" claim.')


def read_date(claims: Mapping[str, Any], name: str) -> int | float | None:
    """Return the NumericDate claim `name` (RFC 7519 §2), or None when there is no such claim.

    Raises:
        InvalidClaim: the claim is present but not a NumericDate (a JSON null included).
    """
    value = claims.get(name)
    # Runs three times for every token: an integer date in range is taken without a call.
    if type(value) is int and 0 <= value <= MAX_TIMESTAMP:
        return value
    if value is None and name not in claims:
        return None
    if not is_numeric_date(value):
        raise InvalidClaim(f'The access token\'s "{name}" claim is not a valid date.')
    return value


def check_times(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    """Check `exp`, `nbf` and `iat` against `now`, each with the same `leeway` (RFC 7519 §4.1.4-6).

    The token is expired once `now` reaches `exp + leeway`; not yet valid while `now + leeway`
    is before `nbf`; and an `iat` later than `now + leeway` is refused like an early `nbf`.
    """
    exp = read_date(claims, "exp")
    if exp is not None and now >= exp + leeway:
        raise TokenExpired()
    late = now + leeway
    nbf = read_date(claims, "nbf")
    if nbf is not None and late < nbf:
        raise TokenNotYetValid()
    iat = read_date(claims, "iat")
    if iat is not None and late < iat:
        raise TokenNotYetValid("The access token was issued in the future.")


def check_strings(claims: Mapping[str, Any]) -> None:
    """Raise `InvalidClaim` unless `sub`, `jti`, `client_id` and `azp` are strings where present.

    AccessToken exposes them as `str | None` attributes.
    """
    # Runs for every token, so in one C-level pass: the type of each value ("" stands in
    # for an absent claim) against {str}, instead of four Python-level get, isinstance
    # and branch steps.
    if not _ONLY_STR.issuperset(map(type, map(claims.get, _STRING_CLAIMS, _ABSENT_AS_STRING))):
        name = next(name for name in _STRING_CLAIMS if type(claims.get(name, "")) is not str)
        raise InvalidClaim(f'The access token\'s "{name}" claim must be a string.')


def check_issuer(claims: Mapping[str, Any], issuers: frozenset[str] | None) -> str | None:
    """Return `iss`; with `issuers` set it must be one of them, by exact string equality."""
    iss = claims.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise InvalidIssuer()
    if issuers is not None:
        if iss is None:
            raise MissingClaim('The access token lacks the required "iss" claim.')
        if iss not in issuers:
            raise InvalidIssuer()
    return iss


def check_audience(claims: Mapping[str, Any], audiences: frozenset[str] | None) -> tuple[str, ...]:
    """Return `aud` as a tuple; with `audiences` set one entry must equal one of them exactly.

    RFC 7519 §4.1.3: `aud` is a string or an array of strings. Matching is whole-string
    equality: "api" never matches "api2", "https://api" or "api/".
    """
    aud = claims.get("aud")
    if aud is None:
        if "aud" in claims:
            raise InvalidAudience()
        if audiences is not None:
            raise MissingClaim('The access token lacks the required "aud" claim.')
        return ()
    if isinstance(aud, str):
        values: tuple[str, ...] = (aud,)
    elif isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        values = tuple(aud)
    else:
        raise InvalidAudience()
    if audiences is not None and audiences.isdisjoint(values):
        raise InvalidAudience()
    return values


def normalize_type(value: str) -> str:
    """Return a media type as RFC 7515 §4.1.9 compares it: lower case, "application/" removed."""
    value = value.lower()
    return value[12:] if value.startswith("application/") and "/" not in value[12:] else value


def check_type(header: Mapping[str, Any], expected: str | None) -> None:
    """With `expected` set, require the header's `typ` to be that type (RFC 9068 §4)."""
    if expected is None:
        return
    typ = header.get("typ")
    if not isinstance(typ, str) or normalize_type(typ) != expected:
        raise InvalidTokenType()


def _space_separated(value: str) -> frozenset[str]:
    """Return the items of a space-separated list, empty items ("a  b", " a") left out."""
    items = frozenset(value.split(" "))
    return items - _NO_ITEM if "" in items else items


def _strings(value: object, name: str) -> frozenset[str]:
    """Return a space-separated string or a list of strings as a set of its items."""
    if isinstance(value, str):
        return _space_separated(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise InvalidClaim(f'The access token\'s "{name}" claim must be a string or a list of strings.')


def read_scopes(claims: Mapping[str, Any], scope_claim: str | None) -> frozenset[str]:
    """Return the token's scopes.

    With `scope_claim` None: `scope`, a space-separated string (RFC 8693 §4.2, RFC 9068 §2.2.3),
    and failing that `scp`, a list or a string (Azure AD, Okta). A named claim may be either.
    """
    if scope_claim is None:
        scope = claims.get("scope")
        if scope is not None:
            if not isinstance(scope, str):
                raise InvalidClaim('The access token\'s "scope" claim must be a string.')
            return _space_separated(scope)
        scope_claim = "scp"
    value = claims.get(scope_claim)
    return frozenset() if value is None else _strings(value, scope_claim)


def read_roles(claims: Mapping[str, Any], path: tuple[str, ...]) -> frozenset[str]:
    """Return the roles found at a dotted path (Keycloak's `realm_access.roles`), else none.

    The value may be a list of strings or one string naming a single role.
    """
    value: object = claims
    for part in path:
        if not isinstance(value, dict):
            return frozenset()
        value = value.get(part)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise InvalidClaim("The access token's roles claim must be a list of strings.")
