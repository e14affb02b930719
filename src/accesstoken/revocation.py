"""Denylists for JWT access tokens: `MemoryDenylist` for one process, `RedisDenylist` for many.

Also the replay caches of DPoP proofs (RFC 9449 §11.1), which deny a proof's `jti` after its
first use: `MemoryReplayCache` for one process, `RedisReplayCache` for many.

```python
from accesstoken import TokenVerifier
from accesstoken.revocation import MemoryDenylist

deny = MemoryDenylist()
verifier = TokenVerifier(keys, issuer=..., audience=..., revocation=deny)
deny.revoke(verifier.verify(raw))        # this token: refused from now on (TokenRevoked)
deny.revoke_subject("user-1")            # every token of user-1 issued until now
```

Both follow the rules of `_revocation.DenylistPolicy`: an entry lives as long as the
tokens it names could still be accepted (their `exp` plus `grace`), and no longer. Redis
is imported only by `RedisDenylist` and `RedisReplayCache`, so this module works without
the `redis` extra.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._remote.flow import Call, Flow, run, run_async
from ._replay import MemoryReplayCache, ttl_milliseconds
from ._revocation import Clock, DenylistPolicy, Entry, Instant, caught_by_rule
from ._token import AccessToken
from .errors import RevocationUnavailable

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["MemoryDenylist", "MemoryReplayCache", "RedisDenylist", "RedisReplayCache"]

_log = logging.getLogger("accesstoken")
T = TypeVar("T")

_JTI: Final = "jti"
_SUBJECT: Final = "sub"
_UNREACHABLE: Final = "The revocation store could not be reached."


class _Denylist:
    """The public methods of both denylists; subclasses store and look up entries."""

    def __init__(self, grace: float, max_token_lifetime: float, clock: Clock | None) -> None:
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning epoch seconds")
        self._policy = DenylistPolicy(grace, max_token_lifetime)
        self._clock: Clock = clock if clock is not None else time.time

    # -- what subclasses provide ----------------------------------------------------------

    #: What a failed write of the store raises (mapped to `RevocationUnavailable`).
    _store_errors: tuple[type[Exception], ...] = ()

    def _store(self, kind: str, entry: Entry, now: float) -> Call[object]:
        """Return the call that stores `entry` (sync and async forms)."""
        raise NotImplementedError

    # -- revoking: each public pair runs the same flow ------------------------------------------

    def _put(self, kind: str, entry_at: Callable[[float], Entry | None]) -> Flow[None]:
        now = self._clock()
        entry = entry_at(now)
        if entry is None:  # revoking what has already ended stores nothing
            return
        try:
            yield self._store(kind, entry, now)
        except self._store_errors as exc:
            raise self._unavailable("write", exc) from exc

    def _unavailable(self, action: str, exc: Exception) -> RevocationUnavailable:
        _log.warning("revocation store %s failed: %s", action, type(exc).__name__)
        return RevocationUnavailable(_UNREACHABLE)

    def revoke(self, token: AccessToken) -> None:
        """Refuse `token` from now on, by its `jti`, until its `exp` plus `grace`.

        A token that has already ended is not stored.

        Raises:
            ValueError: the token has no `jti`; only `revoke_subject()` can catch it.
            RevocationUnavailable: the store could not be written.
        """
        run(self._put(_JTI, partial(self._policy.token_entry, token)))

    def revoke_jti(self, jti: str, expires_at: Instant | None = None) -> None:
        """Refuse the token whose `jti` is `jti`, until `expires_at` plus `grace`.

        Args:
            jti: the token id, as seen elsewhere (an RFC 7009 revocation request, an audit log).
            expires_at: the token's expiry: a datetime (naive means UTC) or epoch seconds.
                None: unknown, and the entry lives `max_token_lifetime + grace`.

        Raises:
            RevocationUnavailable: the store could not be written.
        """
        run(self._put(_JTI, partial(self._policy.jti_entry, jti, expires_at)))

    def revoke_subject(self, subject: str, issued_before: Instant | None = None) -> None:
        """Refuse every token of `subject` issued before `issued_before` (default: now).

        Tokens of that `sub` without `iat` are refused too. The rule lives
        `max_token_lifetime + grace` seconds after `issued_before`.

        Raises:
            RevocationUnavailable: the store could not be written.
        """
        run(self._put(_SUBJECT, partial(self._policy.subject_entry, subject, issued_before)))

    async def revoke_async(self, token: AccessToken) -> None:
        """Refuse `token` from now on, without blocking the event loop; see `revoke()`."""
        await run_async(self._put(_JTI, partial(self._policy.token_entry, token)))

    async def revoke_jti_async(self, jti: str, expires_at: Instant | None = None) -> None:
        """Refuse the token id `jti`, without blocking the event loop; see `revoke_jti()`."""
        await run_async(self._put(_JTI, partial(self._policy.jti_entry, jti, expires_at)))

    async def revoke_subject_async(
        self, subject: str, issued_before: Instant | None = None
    ) -> None:
        """Refuse the tokens of `subject`, not blocking the loop; see `revoke_subject()`."""
        entry_at = partial(self._policy.subject_entry, subject, issued_before)
        await run_async(self._put(_SUBJECT, entry_at))


class MemoryDenylist(_Denylist):
    """A denylist in this process's memory: bounded, thread-safe and asyncio-safe.

    Entries leave by themselves once the tokens they name have ended (plus `grace`). When
    `max_entries` are held, the entries that end soonest are evicted first, never the one
    just added. Each process has its own: use `RedisDenylist` to share one between replicas.

    Args:
        max_entries: the most entries held, `jti` entries and subject rules together.
        grace: seconds an entry outlives its tokens' `exp`; at least any verifier's `leeway`.
        max_token_lifetime: the longest life of a token of the issuer, in seconds.
        clock: epoch seconds, for tests; defaults to `time.time`.

    Raises:
        TypeError, ValueError: an option of the wrong type or out of range.
    """

    def __init__(
        self,
        max_entries: int = 1_000_000,
        grace: float = 60,
        max_token_lifetime: float = 86_400,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(grace, max_token_lifetime, clock)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError("max_entries must be an int")
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._lock = threading.Lock()
        # (kind, name) -> (until, issued_before, sequence). The heap orders the same entries
        # by `until`; a heap item whose sequence is not the entry's is stale and skipped.
        self._entries: dict[tuple[str, str], tuple[float, float, int]] = {}
        self._heap: list[tuple[float, int, tuple[str, str]]] = []
        self._sequence = 0

    def __len__(self) -> int:
        """Return the number of entries still in force."""
        with self._lock:
            self._purge(self._clock())
            return len(self._entries)

    def _store(self, kind: str, entry: Entry, now: float) -> Call[object]:
        return Call(self._keep, _at_once(self._keep), (kind, entry, now))

    def _keep(self, kind: str, entry: Entry, now: float) -> None:
        key = (kind, entry.name)
        with self._lock:
            until, issued_before = entry.until, entry.issued_before
            held = self._entries.get(key)
            if held is not None and held[0] > now:
                # Revoked twice: keep the longer life and the later cutoff, so a second call
                # can only widen what is refused.
                until, issued_before = max(until, held[0]), max(issued_before, held[1])
            self._sequence += 1
            self._entries[key] = (until, issued_before, self._sequence)
            heapq.heappush(self._heap, (until, self._sequence, key))
            self._purge(now)
            self._evict(keep=key)

    def _purge(self, now: float) -> None:
        """Drop the entries that have ended; they sit at the top of the heap."""
        heap, entries = self._heap, self._entries
        while heap and (heap[0][0] <= now or self._stale(heap[0])):
            _, sequence, key = heapq.heappop(heap)
            held = entries.get(key)
            if held is not None and held[2] == sequence:
                del entries[key]
        if len(heap) > 2 * len(entries) + 64:  # many stale items: rebuild
            self._heap = [(until, seq, key) for key, (until, _, seq) in entries.items()]
            heapq.heapify(self._heap)

    def _stale(self, item: tuple[float, int, tuple[str, str]]) -> bool:
        held = self._entries.get(item[2])
        return held is None or held[2] != item[1]

    def _evict(self, keep: tuple[str, str]) -> None:
        """Evict the entries that end soonest until at most `max_entries` are held."""
        kept: list[tuple[float, int, tuple[str, str]]] = []
        while len(self._entries) > self._max_entries:
            item = heapq.heappop(self._heap)
            if self._stale(item):
                continue
            if item[2] == keep:
                kept.append(item)
                continue
            del self._entries[item[2]]
        for item in kept:
            heapq.heappush(self._heap, item)

    def is_revoked(self, token: AccessToken) -> bool:
        """Return whether `token`'s `jti` is denied, or a rule for its subject catches it."""
        now = self._clock()
        jti, subject = token.jti, token.subject
        with self._lock:
            by_jti = self._entries.get((_JTI, jti)) if jti is not None else None
            rule = self._entries.get((_SUBJECT, subject)) if subject is not None else None
        if by_jti is not None and by_jti[0] > now:
            return True
        return rule is not None and rule[0] > now and caught_by_rule(token, rule[1])

    async def is_revoked_async(self, token: AccessToken) -> bool:
        """Return whether `token` is revoked; see `is_revoked()`."""
        return self.is_revoked(token)

    def __repr__(self) -> str:
        return f"MemoryDenylist(max_entries={self._max_entries})"


def _at_once(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Return an async form of `function`, which does no I/O (a memory store's write)."""

    async def at_once(*args: Any) -> T:
        return function(*args)

    return at_once


def _no_client(*_: object) -> Any:
    raise TypeError("this Redis store has no sync client: pass client=, or use the async methods")


async def _no_async_client(*_: object) -> Any:
    raise TypeError("this Redis store has no async_client: pass it, or use the sync methods")


def _redis_errors(
    owner: str, client: object, async_client: object, prefix: object
) -> tuple[type[Exception], ...]:
    """Check the options every Redis store takes; return what redis-py raises on failure.

    Raises:
        ImportError: redis-py is not installed; the message names the extra.
        TypeError: neither client is given, or `prefix` is not a string.
    """
    try:
        from redis.exceptions import RedisError
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{owner} needs redis-py: pip install 'accesstoken[redis]'") from exc
    if client is None and async_client is None:
        raise TypeError(f"{owner} needs a redis.Redis client, an async_client, or both")
    if not isinstance(prefix, str):
        raise TypeError("prefix must be a string")
    return (RedisError,)


# Sets KEYS[1] to the larger of its value and ARGV[1], and its life to the longer of what is
# left and ARGV[2] milliseconds, in one atomic step: revoking twice only widens the denial.
_PUT_SCRIPT: Final = """
local value = ARGV[1]
local ttl = tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if current then
  if tonumber(current) and tonumber(current) > tonumber(value) then value = current end
  local left = redis.call('PTTL', KEYS[1])
  if left > ttl then ttl = left end
end
redis.call('SET', KEYS[1], value, 'PX', ttl)
return 1
"""


class RedisDenylist(_Denylist):
    """A denylist in Redis, shared by every replica of a service (redis-py, sync and asyncio).

    One key per `jti` (`{prefix}jti:{jti}`) and per subject rule (`{prefix}sub:{subject}`,
    holding the rule's cutoff in epoch seconds), each with a TTL of what is left of the
    tokens' life plus `grace`, rounded up to whole seconds: nothing lives forever and no key
    is ever scanned. A check is one `MGET` of at most two keys: one round trip.

    When Redis cannot be reached (connection refused, a timeout of the client's
    `socket_timeout`, any `RedisError`), a check raises `RevocationUnavailable` (503), or,
    with `fail_open=True`, logs a warning and lets the token through. Writes always raise.
    redis-py reconnects by itself, so the same clients recover once Redis is back.

    Args:
        client: a `redis.Redis`, for `verify()` and the sync methods; None if only the async
            path is used.
        async_client: a `redis.asyncio.Redis`, for `verify_async()` and the `_async` methods.
        prefix: the start of every key.
        grace: seconds an entry outlives its tokens' `exp`; at least any verifier's `leeway`.
        max_token_lifetime: the longest life of a token of the issuer, in seconds.
        fail_open: accept tokens while Redis is unreachable, on purpose.
        clock: epoch seconds, for tests; defaults to `time.time`.

    Raises:
        TypeError, ValueError: no client at all, or an option of the wrong type or range.
        ImportError: redis-py is not installed (`pip install 'accesstoken[redis]'`).
    """

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        async_client: redis.asyncio.Redis | None = None,
        prefix: str = "accesstoken:revoked:",
        grace: float = 60,
        max_token_lifetime: float = 86_400,
        fail_open: bool = False,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(grace, max_token_lifetime, clock)
        store_errors = _redis_errors("RedisDenylist", client, async_client, prefix)
        if not isinstance(fail_open, bool):
            raise TypeError("fail_open must be a bool")
        self._client = client
        self._async_client = async_client
        self._prefix = prefix
        self._fail_open = fail_open
        self._store_errors = store_errors
        self._script = client.register_script(_PUT_SCRIPT) if client is not None else None
        self._async_script = (
            async_client.register_script(_PUT_SCRIPT) if async_client is not None else None
        )
        self._mget = client.mget if client is not None else None
        self._mget_async = async_client.mget if async_client is not None else None

    @property
    def prefix(self) -> str:
        """The start of every key this denylist writes."""
        return self._prefix

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _write(self, kind: str, entry: Entry, now: float) -> tuple[list[str], list[str]]:
        """Return the script's keys and arguments: the value and a TTL rounded up to seconds."""
        value = "0" if kind == _JTI else repr(entry.issued_before)
        ttl_ms = math.ceil(entry.until - now) * 1000
        return [self._key(kind, entry.name)], [value, str(ttl_ms)]

    def _store(self, kind: str, entry: Entry, now: float) -> Call[object]:
        keys, args = self._write(kind, entry, now)
        return Call(
            self._script or _no_client, self._async_script or _no_async_client, (keys, args)
        )

    def _lookup(self, token: AccessToken) -> list[str]:
        """Return the keys that could deny `token`: its `jti`, then its subject's rule."""
        keys = []
        if token.jti is not None:
            keys.append(self._key(_JTI, token.jti))
        if token.subject is not None:
            keys.append(self._key(_SUBJECT, token.subject))
        return keys

    def _decide(self, token: AccessToken, values: Sequence[Any]) -> bool:
        """Return whether the values read for `_lookup(token)` deny it."""
        values = list(values)
        if token.jti is not None and values.pop(0) is not None:
            return True
        if token.subject is None or values[0] is None:
            return False
        try:
            cutoff = float(values[0])
        except ValueError:  # not written by us: treat the subject as revoked, not as free
            cutoff = math.inf
        return caught_by_rule(token, cutoff)

    def _check(self, token: AccessToken) -> Flow[bool]:
        keys = self._lookup(token)
        if not keys:
            return False
        try:
            values = yield Call(
                self._mget or _no_client, self._mget_async or _no_async_client, (keys,)
            )
        except self._store_errors as exc:
            return self._failed(exc)
        return self._decide(token, values)

    def is_revoked(self, token: AccessToken) -> bool:
        """Return whether `token` is denied, with one `MGET`.

        Raises:
            RevocationUnavailable: Redis could not be reached (unless `fail_open`).
        """
        return run(self._check(token))

    async def is_revoked_async(self, token: AccessToken) -> bool:
        """Return whether `token` is denied, with one `MGET`, without blocking the loop.

        Raises:
            RevocationUnavailable: Redis could not be reached (unless `fail_open`).
        """
        return await run_async(self._check(token))

    def _failed(self, exc: Exception) -> bool:
        """Return False when failing open on purpose; else raise `RevocationUnavailable`."""
        if self._fail_open:
            _log.warning("revocation store unreachable (%s); token accepted", type(exc).__name__)
            return False
        raise self._unavailable("check", exc) from exc

    def __repr__(self) -> str:
        return f"RedisDenylist(prefix={self._prefix!r}, fail_open={self._fail_open})"


_REPLAY_UNREACHABLE: Final = "The DPoP replay cache could not be reached."


class RedisReplayCache:
    """A DPoP replay cache in Redis, shared by every replica of a service (RFC 9449 §11.1).

    A proof seen by one replica is refused by all the others. Each first use is one
    `SET {prefix}{key} 1 NX PX ttl`: one round trip that records the key and tells, atomically,
    whether it was there, so two replicas racing with the same proof cannot both accept it.
    Every key expires by itself (its TTL rounded up to whole milliseconds); none is scanned.

    When Redis cannot be reached (connection refused, a timeout of the client's
    `socket_timeout`, any `RedisError`), `first_use()` raises `RevocationUnavailable` (503,
    never the client's fault): a proof that cannot be recorded is not accepted, as it
    could be replayed. There is no `fail_open`.

    `client` (for `verify()`), `async_client` (for `verify_async()`) and `prefix` (the start
    of every key) are those of `RedisDenylist`, and so are the errors of a wrong one:
    `TypeError` for no client at all or a prefix that is not a string, `ImportError` without
    redis-py (`pip install 'accesstoken[redis]'`).
    """

    def __init__(
        self,
        client: redis.Redis | None = None,
        async_client: redis.asyncio.Redis | None = None,
        prefix: str = "accesstoken:dpop:",
    ) -> None:
        self._errors = _redis_errors("RedisReplayCache", client, async_client, prefix)
        self._prefix = prefix
        # execute_command takes the whole command positionally, as a Call passes arguments.
        self._set = client.execute_command if client is not None else _no_client
        self._set_async = (
            async_client.execute_command if async_client is not None else _no_async_client
        )

    @property
    def prefix(self) -> str:
        """The start of every key this cache writes."""
        return self._prefix

    def _first_use(self, key: str, ttl: float) -> Flow[bool]:
        command = ("SET", self._prefix + key, "1", "NX", "PX", ttl_milliseconds(ttl))
        try:
            stored = yield Call(self._set, self._set_async, command)
        except self._errors as exc:
            _log.warning("DPoP replay cache unreachable: %s", type(exc).__name__)
            raise RevocationUnavailable(_REPLAY_UNREACHABLE) from exc
        return bool(stored)  # True for OK; None when NX found the key

    def first_use(self, key: str, ttl: float) -> bool:
        """Return True and remember `key` for `ttl` seconds, unless some replica has already.

        Raises:
            RevocationUnavailable: Redis could not be reached.
        """
        return run(self._first_use(key, ttl))

    async def first_use_async(self, key: str, ttl: float) -> bool:
        """Return what `first_use()` returns, without blocking the event loop.

        Raises:
            RevocationUnavailable: Redis could not be reached.
        """
        return await run_async(self._first_use(key, ttl))

    def __repr__(self) -> str:
        return f"RedisReplayCache(prefix={self._prefix!r})"
