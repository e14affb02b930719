"""Checks of constructor options, shared by every public class that takes them.

A bad option is the programmer's mistake: it fails at construction with `TypeError` (wrong
type) or `ValueError` (wrong value), never later as a token error. Each check returns the
value in the form the caller keeps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from . import _claims
from ._pipeline import ClaimsPolicy

__all__ = [
    "VerifierOptions",
    "check_clock",
    "check_revocation",
    "claims_policy",
    "count",
    "names",
    "seconds",
    "verifier_options",
]


def seconds(
    value: object, name: str, *, allow_zero: bool = True, allow_infinite: bool = False
) -> float:
    """Return a duration option as a float.

    Raises:
        TypeError: not a number (`bool` included).
        ValueError: negative, NaN, zero when `allow_zero` is False, or infinite when
            `allow_infinite` is False.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds")
    if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        least = "zero or more" if allow_zero else "greater than 0"
        raise ValueError(f"{name} must be a number of seconds, {least}")
    if math.isinf(value) and not allow_infinite:
        raise ValueError(f"{name} must be a finite number of seconds")
    return float(value)


def count(value: object, name: str, *, minimum: int) -> int:
    """Return a whole-number option (a size, a number of entries).

    Raises:
        TypeError: not an int (`bool` included).
        ValueError: below `minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def names(value: str | Collection[str] | None, name: str) -> frozenset[str] | None:
    """Return an option given as one string or a collection of strings as a set; None stays.

    Raises:
        TypeError: bytes, or a collection holding something other than strings.
        ValueError: an empty collection or an empty string (pass None to skip on purpose).
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, bytes) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{name} must be a string or a collection of strings")
    found = frozenset(value)
    if not found or "" in found:
        raise ValueError(f"{name} must not be empty; pass None to skip the check on purpose")
    return found


def check_clock(clock: Callable[[], float] | None) -> None:
    """Raise `TypeError` unless `clock` is None or callable."""
    if clock is not None and not callable(clock):
        raise TypeError("clock must be a callable returning epoch seconds")


def check_revocation(revocation: object) -> None:
    """Raise `TypeError` unless `revocation` is None or a `RevocationCheck`."""
    from ._revocation import RevocationCheck  # here: _revocation itself uses these checks

    if revocation is not None and not isinstance(revocation, RevocationCheck):
        raise TypeError("revocation must implement is_revoked() and is_revoked_async()")


class VerifierOptions(NamedTuple):
    """The options every verifier takes besides its source of claims, checked once."""

    clock: Callable[[], float]
    required_scopes: frozenset[str]
    max_token_bytes: int
    policy: ClaimsPolicy


def verifier_options(options: Mapping[str, Any]) -> VerifierOptions:
    """Check the options every verifier shares, read by name from its constructor's keywords.

    `options` is the constructor's `locals()`: the shared keywords (clock, revocation, dpop,
    required_scopes, max_token_bytes and the claim rules of `claims_policy()`) are listed
    here once, not forwarded by each verifier. The clock is `time.time` for None.

    Raises:
        TypeError, ValueError: as `check_clock()`, `check_revocation()`, `names()`,
            `count()` and `claims_policy()` say; a `dpop` that is not a `DPoP`.
    """
    from ._dpop import DPoP  # here: _dpop itself uses these checks

    clock, dpop, required_scopes = options["clock"], options["dpop"], options["required_scopes"]
    check_clock(clock)
    check_revocation(options["revocation"])
    if dpop is not None and not isinstance(dpop, DPoP):
        raise TypeError("dpop must be a DPoP(...)")
    scopes = (names(required_scopes, "required_scopes") if required_scopes else None) or frozenset()
    return VerifierOptions(
        clock if clock is not None else time.time,
        scopes,
        count(options["max_token_bytes"], "max_token_bytes", minimum=1),
        claims_policy(
            issuer=options["issuer"],
            audience=options["audience"],
            leeway=options["leeway"],
            required_claims=options["required_claims"],
            scope_claim=options["scope_claim"],
            roles_claim=options["roles_claim"],
            token_type=options.get("token_type"),
        ),
    )


def claims_policy(
    *,
    issuer: str | Collection[str] | None,
    audience: str | Collection[str] | None,
    leeway: float,
    required_claims: Collection[str],
    scope_claim: str | None,
    roles_claim: str | None,
    token_type: str | None = None,
) -> ClaimsPolicy:
    """Return the claim rules a verifier applies, from its options, checked once.

    Raises:
        TypeError, ValueError: as `names()` and `seconds()` say; an empty `scope_claim` or
            `token_type`; a `roles_claim` with an empty path segment ("a..b").
    """
    if scope_claim is not None and (not isinstance(scope_claim, str) or not scope_claim):
        raise ValueError("scope_claim must be a non-empty string or None")
    if roles_claim is not None and (
        not isinstance(roles_claim, str) or not all(roles_claim.split("."))
    ):
        raise ValueError('roles_claim must be a dotted path such as "realm_access.roles"')
    if token_type is not None and (not isinstance(token_type, str) or not token_type):
        raise ValueError('token_type must be a media type such as "at+jwt", or None')
    required = names(required_claims, "required_claims") if required_claims else None
    return ClaimsPolicy(
        issuers=names(issuer, "issuer"),
        audiences=names(audience, "audience"),
        leeway=seconds(leeway, "leeway"),
        required=tuple(sorted(required or ())),
        token_type=_claims.normalize_type(token_type) if token_type else None,
        scope_claim=scope_claim,
        roles_path=tuple(roles_claim.split(".")) if roles_claim else (),
    )
