"""When to fetch a remote document again: the cache policy of every remote document.

Key sets (`JWKSEndpoint`, `OIDCDiscovery`) and discovery documents (`OIDCDiscovery`,
`IntrospectionVerifier.from_discovery`) are kept and refreshed by these rules. This module
does no I/O and reads no clock: every decision is a function of the state and the `now` it
is given, so `flight.RemoteDocument` only asks it under a lock, and the tests drive it with
plain numbers. The rules, after panva/jose's `remote.ts`:

- a fetched document is fresh for `cache_ttl` seconds, or for the response's
  `Cache-Control: max-age` (RFC 9111 §5.2.2.1) clamped between `min_refresh_interval` and
  one day, so a server can neither make us poll it constantly nor pin a key set forever;
- a forced refresh (a token named a key we do not hold) happens at most once per
  `min_refresh_interval`, so forged `kid` values cost at most one request per interval;
- after a failed fetch nothing is fetched again for `min_refresh_interval`; meanwhile the
  last good document keeps serving until `max_stale` seconds past its expiry;
- every fetch gets a sequence number, and an older response never replaces a newer one.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from .._options import seconds

__all__ = ["ONE_DAY", "CachedDocument", "Decision", "RefreshPolicy", "max_age_from"]

T = TypeVar("T")

#: The longest a response may ask to be cached (its max-age is clamped to this).
ONE_DAY: Final = 86_400.0
# Jitter spreads load; it protects nothing, so a non-cryptographic generator is right.
_RANDOM: Final = random.Random()  # noqa: S311


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """How long a fetched document stays fresh, and how often it may be fetched again.

    Raises:
        ValueError: `cache_ttl` is not positive, or another value is negative or NaN.
        TypeError: a value is not a number.
    """

    cache_ttl: float = 300.0
    min_refresh_interval: float = 30.0
    max_stale: float = 86_400.0
    #: Each lifetime is shortened by a random fraction of itself, up to this: a fleet of
    #: replicas that started together stops refreshing in step (docs/concepts/key-sources.md).
    jitter: float = 0.1

    def __post_init__(self) -> None:
        seconds(self.cache_ttl, "cache_ttl", allow_zero=False, allow_infinite=True)
        seconds(self.min_refresh_interval, "min_refresh_interval", allow_infinite=True)
        seconds(self.max_stale, "max_stale", allow_infinite=True)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int | float):
            raise TypeError("refresh_jitter must be a number")
        if not 0 <= self.jitter < 1:
            raise ValueError("refresh_jitter must be at least 0 and less than 1")

    def lifetime(self, max_age: float | None, draw: float = 0.0) -> float:
        """Return how many seconds a response stays fresh, given its max-age (None: absent).

        `draw` is a random number in [0, 1): the lifetime is shortened by `draw * jitter` of
        itself, so it ends between `1 - jitter` and all of its value. A max-age is clamped
        after that, so it never ends before `min_refresh_interval`.
        """
        shortened = 1 - self.jitter * draw
        if max_age is None:
            return self.cache_ttl * shortened
        return min(max(max_age * shortened, self.min_refresh_interval), ONE_DAY)


def max_age_from(cache_control: str | None, age: str | None = None) -> float | None:
    """Return the freshness lifetime left in a response's `Cache-Control`, or None if it sets none.

    `max-age` is taken from its first occurrence (RFC 9111 §4.2.1), minus the response's
    `Age` (§4.2.3) when a cache passed it on; `no-cache` and `no-store` mean "do not keep
    it", which the caller's clamp turns into `min_refresh_interval`. A malformed value is
    ignored rather than guessed at.
    """
    if not cache_control:
        return None
    max_age: float | None = None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age" and max_age is None:
            value = value.strip()
            if value.isascii() and value.isdigit():
                max_age = float(value)
    if max_age is not None and age is not None and age.isascii() and age.strip().isdigit():
        max_age = max(0.0, max_age - float(age.strip()))
    return max_age


class Decision(enum.Enum):
    """What a caller should do with the document right now."""

    SERVE = "serve"  # return the document held (fresh, or stale within max_stale)
    FETCH = "fetch"  # fetch it (or join the fetch already under way)
    DECLINE = "decline"  # a forced refresh inside the cooldown: answer "nothing newer"
    UNAVAILABLE = "unavailable"  # nothing usable and no fetch allowed yet


class CachedDocument(Generic[T]):
    """The refresh state of one remote document. Not thread-safe: the shell holds a lock.

    Times are seconds on the caller's monotonic clock.
    """

    __slots__ = (
        "_applied",
        "_cooldown_until",
        "_draw",
        "_drop_at",
        "_failing",
        "_fresh_until",
        "_issued",
        "_value",
        "policy",
    )

    def __init__(self, policy: RefreshPolicy, draw: Callable[[], float] = _RANDOM.random) -> None:
        self.policy = policy
        self._draw = draw  # [0, 1): how far into its jitter each lifetime is cut
        self._value: T | None = None
        self._fresh_until = -math.inf
        self._drop_at = -math.inf
        self._cooldown_until = -math.inf
        self._failing = False
        self._issued = 0  # sequence number of the latest fetch begun
        self._applied = 0  # sequence number of the response the value came from

    def current(self, now: float) -> T | None:
        """Return the document if it may still be served (fresh or within `max_stale`)."""
        if self._value is not None and now >= self._drop_at:
            self._value = None  # past max_stale: a key set this old must not verify anything
        return self._value

    @property
    def fresh_until(self) -> float:
        """When the document held stops being fresh (-inf while none has been fetched)."""
        return self._fresh_until

    def is_fresh(self, now: float) -> bool:
        """Return whether the document is held and within its freshness lifetime."""
        return self.current(now) is not None and now < self._fresh_until

    def decide(self, now: float, *, forced: bool) -> Decision:
        """Return what to do for a caller that needs the document (`forced`: a newer one)."""
        if not forced and self.is_fresh(now):
            return Decision.SERVE
        cooling = now < self._cooldown_until
        # An expired document may be fetched at once after a success; after a failure, and
        # for forced refreshes, the cooldown protects the endpoint.
        if not cooling or (not forced and not self._failing):
            return Decision.FETCH
        if self.current(now) is None:
            return Decision.UNAVAILABLE
        return Decision.DECLINE if forced else Decision.SERVE

    def begin(self) -> int:
        """Return the sequence number of a fetch that starts now."""
        self._issued += 1
        return self._issued

    def succeeded(self, sequence: int, value: T, max_age: float | None, now: float) -> bool:
        """Store the response of fetch `sequence`; return False if a newer one is held."""
        if sequence <= self._applied:
            return False
        lifetime = self.policy.lifetime(max_age, self._draw())
        self._applied = sequence
        self._value = value
        self._fresh_until = now + lifetime
        self._drop_at = self._fresh_until + self.policy.max_stale
        self._cooldown_until = now + self.policy.min_refresh_interval
        self._failing = False
        return True

    def failed(self, sequence: int, now: float) -> None:
        """Record that fetch `sequence` failed, starting the retry cooldown."""
        if sequence <= self._applied:
            return  # a newer fetch has already answered
        self._failing = True
        self._cooldown_until = now + self.policy.min_refresh_interval
