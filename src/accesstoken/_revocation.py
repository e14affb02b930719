"""`RevocationCheck`, and the rules every denylist follows, written once and without I/O.

A denylist holds two kinds of entries: a token id (`jti`) that must no longer be accepted,
and a subject rule ("every token of this `sub` issued before T"). How long each entry must
live, what a naive `datetime` means and which tokens a subject rule catches are decided
here, by plain functions of their inputs and `now`; `MemoryDenylist` and `RedisDenylist`
(`accesstoken.revocation`) only store and look up what these functions tell them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final, Protocol, TypeAlias, runtime_checkable

from . import _options
from ._claims import is_numeric_date
from ._token import AccessToken

__all__ = [
    "Clock",
    "DenylistPolicy",
    "Entry",
    "Instant",
    "RevocationCheck",
    "caught_by_rule",
    "epoch_seconds",
]

#: A point in time as the denylists accept it: an aware or naive (UTC) datetime, or epoch seconds.
Instant: TypeAlias = "datetime | float"
#: Epoch seconds, as `time.time` gives them.
Clock: TypeAlias = Callable[[], float]

_NO_JTI: Final = (
    "this token has no jti, so it cannot be revoked on its own; "
    "use revoke_subject() to revoke every token of its subject"
)


@runtime_checkable
class RevocationCheck(Protocol):
    """Tells whether a verified token has been revoked.

    Implementations raise `RevocationUnavailable` when their store cannot be reached; a
    verifier never treats that as "not revoked".
    """

    def is_revoked(self, token: AccessToken) -> bool:
        """Return True if `token` must no longer be accepted."""
        ...

    async def is_revoked_async(self, token: AccessToken) -> bool:
        """Return True if `token` must no longer be accepted, without blocking the loop."""
        ...


def epoch_seconds(value: Instant, name: str) -> float:
    """Return `value` as seconds since the epoch; a naive `datetime` is read as UTC.

    Raises:
        TypeError: neither a `datetime` nor a number.
        ValueError: a number that is not finite.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a datetime or epoch seconds")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    return float(value)


@dataclass(frozen=True, slots=True)
class Entry:
    """What a denylist must store: a `jti` or a subject, and until when (epoch seconds)."""

    name: str
    until: float
    issued_before: float = math.inf  # subject rules only: tokens with an earlier `iat` are caught


class DenylistPolicy:
    """The lifetimes and matching rules of `accesstoken.revocation`'s denylists.

    Args:
        grace: seconds an entry outlives the end of the tokens it names; at least the
            largest `leeway` of any verifier using the denylist.
        max_token_lifetime: the longest life a token of the issuer can have; a subject rule,
            and a `jti` of unknown expiry, live this long plus `grace`.

    Raises:
        TypeError, ValueError: an option that is not a finite number of seconds, zero or
            more (`max_token_lifetime` must be positive).
    """

    __slots__ = ("grace", "max_token_lifetime")

    def __init__(self, grace: float, max_token_lifetime: float) -> None:
        self.grace = _options.seconds(grace, "grace")
        self.max_token_lifetime = _options.seconds(max_token_lifetime, "max_token_lifetime")
        if self.max_token_lifetime == 0:
            raise ValueError("max_token_lifetime must be positive")

    def token_entry(self, token: AccessToken, now: float) -> Entry | None:
        """Return the entry revoking `token` by its `jti`, or None when it has already ended.

        Raises:
            ValueError: the token has no `jti` (only a subject rule can catch it).
            TypeError: `token` is not an `AccessToken`.
        """
        if not isinstance(token, AccessToken):
            raise TypeError("revoke() takes an AccessToken; use revoke_jti() for a token id")
        jti = token.jti
        if jti is None:
            raise ValueError(_NO_JTI)
        exp = token.claims.get("exp")
        return self.jti_entry(jti, float(exp) if is_numeric_date(exp) else None, now)

    def jti_entry(self, jti: str, expires_at: Instant | None, now: float) -> Entry | None:
        """Return the entry revoking the token id `jti`, or None when it has already ended.

        It lives until `expires_at + grace`; without `expires_at`, `max_token_lifetime + grace`
        from `now`.

        Raises:
            TypeError, ValueError: `jti` not a non-empty string, or a bad `expires_at`.
        """
        _name(jti, "jti")
        if expires_at is None:
            until = now + self.max_token_lifetime + self.grace
        else:
            until = epoch_seconds(expires_at, "expires_at") + self.grace
        return Entry(jti, until) if until > now else None

    def subject_entry(
        self, subject: str, issued_before: Instant | None, now: float
    ) -> Entry | None:
        """Return the rule revoking the tokens of `subject` issued before `issued_before` (now).

        No token it must catch outlives `issued_before + max_token_lifetime`, so the rule
        lives until then plus `grace`; None when that has already passed.

        Raises:
            TypeError, ValueError: `subject` not a non-empty string, or a bad `issued_before`.
        """
        _name(subject, "subject")
        cutoff = now if issued_before is None else epoch_seconds(issued_before, "issued_before")
        until = cutoff + self.max_token_lifetime + self.grace
        return Entry(subject, until, cutoff) if until > now else None


def caught_by_rule(token: AccessToken, issued_before: float | None) -> bool:
    """Return whether a subject rule with cutoff `issued_before` catches `token`.

    Tokens issued before the cutoff are caught, and so are those without a usable `iat`:
    nothing shows they were issued after the rule. A token issued in the very second of
    the rule may go either way (`iat` has whole seconds).
    """
    if issued_before is None:
        return False
    iat = token.claims.get("iat")
    return not is_numeric_date(iat) or iat < issued_before


def _name(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    if not value:
        raise ValueError(f"{what} must not be empty")
