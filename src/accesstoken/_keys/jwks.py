"""`JWKSEndpoint`: a JWK Set (RFC 7517 §5) fetched over HTTPS, cached, refreshed on rotation.

`cache.py` decides when to fetch; this module only keeps one fetch in flight at a time,
for threads and asyncio tasks alike. A fetch is a "flight" with a deadline and a
`concurrent.futures.Future`: the caller that starts it launches the I/O (a worker thread
for sync callers, a task for async ones) and every caller, the first included, waits on
the future with a bounded wait. Because of that:

- 100 cold callers, in threads or tasks, sync or async, make one request together;
- no `threading.Lock` is ever held across I/O or an `await` (the event loop never blocks);
- the future is not bound to an event loop, so one endpoint serves any number of loops;
- a caller never waits past `timeout`, even when a server trickles its answer byte by
  byte, and a cancelled caller does not cancel the fetch that others are waiting for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

import httpx

from ..errors import KeySourceUnavailable
from .base import KeySet, KeySource, VerificationKey
from .cache import CachedDocument, Decision, RefreshPolicy
from .http import Fetcher, JSONResponse, check_url

__all__ = ["JWKSEndpoint", "parse_jwks"]

T = TypeVar("T")
_log = logging.getLogger("accesstoken")

# How long past its deadline a flight is awaited before its waiters give up on it. The
# fetch enforces the deadline itself; this only covers an owner that can no longer run
# (a sync call blocking the event loop that was to finish the fetch, a stopped loop).
_GRACE: Final = 0.25
_JWK_SET: Final = "application/jwk-set+json, application/json"
_NOT_A_JWK_SET: Final = "The authorization server's key set is malformed."
_TIMED_OUT: Final = "The authorization server did not answer in time."


def parse_jwks(document: dict[str, Any]) -> KeySet:
    """Return the keys of a published JWK Set, skipping the keys that cannot be used.

    A malformed key, or one of an unknown type, is skipped so that one bad entry cannot
    take the whole set down (RFC 7517 §5: "implementations SHOULD ignore JWKs within a JWK
    Set that use "kty" values that are not understood"). Symmetric (`oct`) keys are
    skipped too: a secret published at a URL is no secret, and accepting one would let
    anybody forge HS256 tokens.

    Raises:
        KeySourceUnavailable: `document` has no `keys` list.
    """
    jwks = document.get("keys")
    if not isinstance(jwks, list):
        raise KeySourceUnavailable(_NOT_A_JWK_SET)
    keys = []
    for jwk in jwks:
        try:
            keys.append(VerificationKey.from_jwk(jwk, allow_secret=False))
        except ValueError:
            continue
    if len(keys) < len(jwks):
        _log.info("skipped %d unusable keys of a JWK Set", len(jwks) - len(keys))
    return KeySet(keys)


@dataclass(slots=True)
class Flight(Generic[T]):
    """One call under way that several callers wait for; `done` resolves to its result.

    Shared with `IntrospectionVerifier`, whose calls are single-flighted the same way.
    """

    deadline: float  # time.monotonic()
    done: concurrent.futures.Future[T] = field(
        default_factory=concurrent.futures.Future, init=False
    )

    def __post_init__(self) -> None:
        # A running future cannot be cancelled, so a waiter that gives up (asyncio.wait_for
        # cancels what it wraps) never cancels the flight for the others.
        self.done.set_running_or_notify_cancel()

    def remaining(self) -> float:
        return max(0.0, self.deadline + _GRACE - time.monotonic())


@dataclass(slots=True)
class _Flight(Flight[bool]):
    """One fetch of the document under way; `done` resolves to whether it succeeded."""

    sequence: int  # the cache's number for this fetch: an older answer never wins


class RemoteDocument(Generic[T]):
    """A document fetched by `fetch`/`fetch_async`, refreshed under a `RefreshPolicy`.

    The two fetch callables do the I/O and parsing and raise `KeySourceUnavailable` on
    failure; this class decides nothing itself, it asks `CachedDocument` under a short lock.
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[T, float | None]],
        fetch_async: Callable[[], Awaitable[tuple[T, float | None]]],
        *,
        policy: RefreshPolicy,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self._fetch = fetch
        self._fetch_async = fetch_async
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: CachedDocument[T] = CachedDocument(policy)
        # The document and when it stops being fresh, replaced whole (under the lock) by every
        # response the cache accepts: a warm read, once per token, then needs no lock.
        self._fresh: tuple[T, float] | None = None
        self._flight: _Flight | None = None
        self._failure: KeySourceUnavailable | None = None  # why the last fetch failed
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references

    # -- the decisions, under the lock, without I/O -------------------------------------

    def _plan(self, forced: bool) -> tuple[T | None, _Flight | None, bool]:
        """Return (answer, None, False), or (None, flight to wait for, whether to start it)."""
        with self._lock:
            now = self._clock()
            flight = self._flight
            if flight is not None and flight.remaining() == 0:
                self._settle_locked(flight, None, now)  # its owner is gone: count it as failed
                flight = None
            decision = self._cache.decide(now, forced=forced)
            if decision is Decision.SERVE:
                return self._cache.current(now), None, False
            if decision is Decision.DECLINE:
                return None, None, False
            if flight is not None:
                return None, flight, False
            if decision is Decision.UNAVAILABLE:
                raise self._unavailable()
            flight = _Flight(time.monotonic() + self._timeout, self._cache.begin())
            self._flight = flight
            return None, flight, True

    def _unavailable(self) -> KeySourceUnavailable:
        # A new exception per caller, with the fixed description of the last failure.
        if self._failure is None:
            return KeySourceUnavailable()
        error = KeySourceUnavailable(self._failure.description)
        error.__cause__ = self._failure
        return error

    def _settle_locked(
        self,
        flight: _Flight,
        result: tuple[T, float | None] | None,
        now: float,
        failure: KeySourceUnavailable | None = None,
    ) -> None:
        if result is None:
            self._cache.failed(flight.sequence, now)
            self._failure = failure or KeySourceUnavailable(_TIMED_OUT)
        elif self._cache.succeeded(flight.sequence, result[0], result[1], now):
            self._fresh = (result[0], self._cache.fresh_until)
        if self._flight is flight:
            self._flight = None
        if not flight.done.done():
            flight.done.set_result(result is not None)

    def _settle(
        self,
        flight: _Flight,
        result: tuple[T, float | None] | None,
        failure: KeySourceUnavailable | None = None,
    ) -> None:
        with self._lock:
            self._settle_locked(flight, result, self._clock(), failure)

    def fresh(self) -> T | None:
        """Return the document while it is fresh, without taking the lock; else None.

        Fresh implies servable (a document is dropped only `max_stale` after it stops being
        fresh), so this answers exactly as `CachedDocument.decide` would with SERVE.
        """
        fresh = self._fresh
        if fresh is not None and self._clock() < fresh[1]:
            return fresh[0]
        return None

    def _answer(self, forced: bool, succeeded: bool) -> T | None:
        with self._lock:
            value = self._cache.current(self._clock())
            if value is None:
                raise self._unavailable()
        # A forced refresh that failed has nothing newer; the caller keeps the set it has.
        return value if succeeded or not forced else None

    # -- sync shell ----------------------------------------------------------------------

    def _run(self, flight: _Flight) -> None:
        try:
            result = self._fetch()
        except KeySourceUnavailable as exc:
            self._settle(flight, None, exc)
        except Exception as exc:  # a bug: hand it to every waiter rather than hide it
            self._fail_with(flight, exc)
        else:
            self._settle(flight, result)

    def _fail_with(self, flight: _Flight, exc: BaseException) -> None:
        with self._lock:
            if not flight.done.done():
                flight.done.set_exception(exc)
            self._settle_locked(flight, None, self._clock())

    def get(self, *, forced: bool = False) -> T | None:
        """Return the document (`forced`: a newer one, or None when declined).

        Raises:
            KeySourceUnavailable: no usable document and none could be fetched.
        """
        if not forced and (fresh := self.fresh()) is not None:
            return fresh
        answer, flight, start = self._plan(forced)
        if flight is None:
            return answer
        if start:
            # The fetch runs in its own thread so that this wait, not the socket's per-read
            # timeout, bounds how long the caller is held.
            context = contextvars.copy_context()
            worker = threading.Thread(
                target=context.run, args=(self._run, flight), name="accesstoken-fetch"
            )
            worker.daemon = True
            worker.start()
        try:
            succeeded = flight.done.result(timeout=flight.remaining())
        except concurrent.futures.TimeoutError:
            self._settle(flight, None)
            succeeded = False
        return self._answer(forced, succeeded)

    # -- async shell ---------------------------------------------------------------------

    async def _run_async(self, flight: _Flight) -> None:
        try:
            result = await asyncio.wait_for(self._fetch_async(), self._timeout)
        except KeySourceUnavailable as exc:
            self._settle(flight, None, exc)
        except asyncio.TimeoutError:
            self._settle(flight, None)
        except asyncio.CancelledError:
            self._settle(flight, None)
            raise
        except Exception as exc:  # a bug: hand it to every waiter rather than hide it
            self._fail_with(flight, exc)
        else:
            self._settle(flight, result)

    async def get_async(self, *, forced: bool = False) -> T | None:
        """Return the document without blocking the event loop; see `get()`.

        Raises:
            KeySourceUnavailable: no usable document and none could be fetched.
        """
        if not forced and (fresh := self.fresh()) is not None:
            return fresh
        answer, flight, start = self._plan(forced)
        if flight is None:
            return answer
        if start:
            # A task of its own: a caller cancelled mid-fetch leaves it to the other waiters.
            task = asyncio.get_running_loop().create_task(self._run_async(flight))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            succeeded = await asyncio.wait_for(asyncio.wrap_future(flight.done), flight.remaining())
        except asyncio.TimeoutError:
            self._settle(flight, None)
            succeeded = False
        return self._answer(forced, succeeded)


class JWKSEndpoint(KeySource):
    """The keys published at a JWK Set URL (RFC 7517 §5), fetched lazily and kept fresh.

    The set is fetched on first use and cached for `cache_ttl` seconds, or for the response's
    `Cache-Control: max-age` clamped between `min_refresh_interval` and one day. A token
    naming an unknown `kid` makes `refresh()` fetch again, at most once per
    `min_refresh_interval`. When fetching fails, the last good set keeps serving for up to
    `max_stale` seconds past its expiry. Concurrent callers share one request.

    Args:
        url: the JWK Set URL; `https://`, or `http://` on a loopback host.
        http_client: an `httpx.Client` to fetch with (proxies, certificates); else our own.
        async_http_client: an `httpx.AsyncClient` for the async path; else our own.
        timeout: seconds a fetch may take in all, redirects and a slow body included.
        cache_ttl: seconds a set stays fresh when the response sets no max-age.
        min_refresh_interval: least seconds between forced refreshes, and between retries
            after a failure.
        max_stale: seconds past its expiry that the last good set serves while fetches fail.
        max_response_bytes: the largest body accepted.
        clock: monotonic seconds, for tests; defaults to `time.monotonic`.

    Raises:
        ValueError: a URL that is not https (or loopback http), or an option out of range.
        TypeError: an option of the wrong type.
    """

    def __init__(
        self,
        url: str,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        cache_ttl: float = 300,
        min_refresh_interval: float = 30,
        max_stale: float = 86_400,
        max_response_bytes: int = 1_048_576,
        clock: Callable[[], float] | None = None,
    ) -> None:
        fetcher = Fetcher(
            http_client=http_client,
            async_http_client=async_http_client,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
        )
        policy = RefreshPolicy(cache_ttl, min_refresh_interval, max_stale)
        self._init(check_url(url), fetcher, policy, clock)

    def _init(
        self,
        url: str,
        fetcher: Fetcher,
        policy: RefreshPolicy,
        clock: Callable[[], float] | None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        self._url = url
        self._fetcher = fetcher
        self._remote: RemoteDocument[KeySet] = RemoteDocument(
            self._fetch,
            self._fetch_async,
            policy=policy,
            timeout=fetcher.timeout,
            clock=clock or time.monotonic,
        )

    @classmethod
    def _shared(
        cls,
        url: str,
        fetcher: Fetcher,
        policy: RefreshPolicy,
        clock: Callable[[], float] | None,
    ) -> JWKSEndpoint:
        """Return an endpoint that uses another source's settings and clients (discovery)."""
        endpoint = cls.__new__(cls)
        endpoint._init(check_url(url), fetcher, policy, clock)
        return endpoint

    @property
    def url(self) -> str:
        """The JWK Set URL."""
        return self._url

    def _fetch(self) -> tuple[KeySet, float | None]:
        return _key_set_of(self._fetcher.get(self._url, accept=_JWK_SET))

    async def _fetch_async(self) -> tuple[KeySet, float | None]:
        return _key_set_of(await self._fetcher.get_async(self._url, accept=_JWK_SET))

    def key_set(self) -> KeySet:
        """Return the current key set, fetching it when it is missing or expired.

        Raises:
            KeySourceUnavailable: no usable key set and none could be fetched.
        """
        return _required(self._remote.get())

    def key_set_nowait(self) -> KeySet | None:
        """Return the cached key set while it is fresh, else None (then `key_set()` fetches)."""
        return self._remote.fresh()

    def refresh(self) -> KeySet | None:
        """Return a freshly fetched key set, or None inside `min_refresh_interval`.

        Raises:
            KeySourceUnavailable: no usable key set and none could be fetched.
        """
        return self._remote.get(forced=True)

    async def key_set_async(self) -> KeySet:
        """Return the current key set without blocking the event loop; see `key_set()`."""
        return _required(await self._remote.get_async())

    async def refresh_async(self) -> KeySet | None:
        """Return a freshly fetched key set without blocking the event loop; see `refresh()`."""
        return await self._remote.get_async(forced=True)

    def __repr__(self) -> str:
        return f"JWKSEndpoint({self._url!r})"


def _key_set_of(response: JSONResponse) -> tuple[KeySet, float | None]:
    return parse_jwks(response.document), response.max_age


def _required(key_set: KeySet | None) -> KeySet:
    if key_set is None:  # only a forced refresh declines; kept as a guard for type checkers
        raise KeySourceUnavailable()
    return key_set
