"""Replay caches for DPoP proofs (RFC 9449 §11.1): has this proof's `jti` been used before?

A DPoP proof is a signed, one-time statement ("this request, now, with this token"). What
makes it one-time is the resource server remembering every `jti` it accepted for as long
as the proof could still be accepted, and refusing it the second time. `first_use(key,
ttl)` answers that question and records the key in one atomic step, so two requests racing
with the same proof cannot both win.

`MemoryReplayCache` serves one process (each `DPoP` object without a `replay_cache=` owns
one); `accesstoken.revocation.RedisReplayCache` is shared by every replica.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from . import _options
from .errors import RevocationUnavailable

__all__ = ["MemoryReplayCache", "ReplayCache", "check_ttl", "ttl_milliseconds"]

_log = logging.getLogger("accesstoken")

_FULL: Final = "The DPoP replay cache is unavailable right now."


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers the proofs already used: any object with these two methods will do.

    Both record `key` for `ttl` seconds and return True the first time; while the key is
    remembered they return False. A cache that cannot record a key must raise (a
    `KeySourceError` such as `RevocationUnavailable`) rather than answer True: a proof it
    could not record could be replayed.
    """

    def first_use(self, key: str, ttl: float) -> bool:
        """Return True if `key` was not seen in the last `ttl` seconds, recording it."""
        ...

    async def first_use_async(self, key: str, ttl: float) -> bool:
        """Return what `first_use()` returns, without blocking the event loop."""
        ...


def check_ttl(ttl: float) -> float:
    """Return `ttl` if it is a finite number of seconds greater than 0.

    Raises:
        TypeError, ValueError: it is not.
    """
    return _options.seconds(ttl, "ttl", allow_zero=False)


class MemoryReplayCache:
    """A replay cache in this process's memory: bounded, thread-safe and asyncio-safe.

    A key is forgotten once its `ttl` has passed. A key still remembered is never evicted,
    not even to make room: forgetting it early would let its proof be replayed. So when
    `max_entries` keys are remembered and none has expired, a new proof cannot be recorded
    and `first_use()` raises `RevocationUnavailable` (503, the server's problem, never the
    client's) until keys expire. Size it for the proofs accepted per `ttl` (a `DPoP`'s
    `max_age` plus its `leeway`): the default holds a million, about 3,300 proofs a second
    for five minutes, in about 240 MB (280 MB if every `jti` is as long as one kept as it
    is: 64 characters).

    Args:
        max_entries: the most keys remembered at once.
        clock: seconds from any fixed point, for tests; defaults to `time.monotonic`, which
            a change of the wall clock does not move.

    Raises:
        TypeError, ValueError: an option of the wrong type or out of range.
    """

    def __init__(
        self, max_entries: int = 1_000_000, *, clock: Callable[[], float] | None = None
    ) -> None:
        _options.check_clock(clock)
        self._max_entries = _options.count(max_entries, "max_entries", minimum=1)
        self._clock = clock if clock is not None else time.monotonic
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # (until, key): the soonest end first
        self._full = False  # warned about being full, until a key is recorded again
        self._ttl = math.nan  # the last ttl that passed check_ttl; NaN equals no ttl

    def first_use(self, key: str, ttl: float) -> bool:
        """Return True and remember `key` for `ttl` seconds, unless it is remembered already.

        Raises:
            RevocationUnavailable: the cache is full of keys that have not expired.
        """
        # Speed trick: a float equal to the last ttl that passed is valid as well, and a
        # `DPoP` passes the same ttl with every proof: it is checked once, not per proof.
        if type(ttl) is not float or ttl != self._ttl:
            self._ttl = ttl = check_ttl(ttl)
        now = self._clock()
        with self._lock:
            # Speed trick: _purge() is called when a key has ended, not for every key.
            if self._heap and self._heap[0][0] <= now:
                self._purge(now)
            if key in self._until:
                return False
            if len(self._until) >= self._max_entries:
                if not self._full:
                    _log.warning("DPoP replay cache full (%d proofs); proofs refused", len(self))
                self._full = True
                raise RevocationUnavailable(_FULL)
            self._full = False
            until = now + ttl
            self._until[key] = until
            heapq.heappush(self._heap, (until, key))
            return True

    async def first_use_async(self, key: str, ttl: float) -> bool:
        """Return what `first_use()` returns; no I/O, so it does not wait."""
        return self.first_use(key, ttl)

    def _purge(self, now: float) -> None:
        """Forget the keys whose time has passed; they sit at the top of the heap."""
        heap, until = self._heap, self._until
        while heap and heap[0][0] <= now:
            ended, key = heapq.heappop(heap)
            if until.get(key) == ended:
                del until[key]

    def __len__(self) -> int:
        """Return how many keys are remembered, expired ones not yet purged included."""
        return len(self._until)

    def __repr__(self) -> str:
        return f"MemoryReplayCache(max_entries={self._max_entries})"


def ttl_milliseconds(ttl: float) -> int:
    """Return `ttl` in whole milliseconds, rounded up, so that a key never ends early."""
    return max(1, math.ceil(check_ttl(ttl) * 1000))
