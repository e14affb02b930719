"""One call in flight per key, many waiters: the single-flight engine of every remote answer.

A JWK Set, a discovery document and an introspection answer are each fetched by at most
one call at a time, however many threads and event loops want it. A call is a "flight":
a `concurrent.futures.Future` with a deadline. The caller that starts it launches the I/O
(a worker thread for sync callers, a task for async ones) and every caller, the first
included, waits on the future with a bounded wait. Because of that:

- 100 cold callers, in threads or tasks, sync or async, make one request together;
- no `threading.Lock` is ever held across I/O or an `await` (the event loop never blocks);
- the future is bound to no event loop, so one source serves any number of loops;
- a caller never waits past the deadline, whatever the server does (trickling its head or
  body byte by byte, or never answering), and a cancelled caller does not cancel the call
  that others are waiting for; a sync worker left blocked is cut loose (`CancelScope`).

`SingleFlight` is the engine: its owner decides under `SingleFlight.lock` whether a call is
needed (a cache, a refresh policy) and settles its own state when the call ends.
`RemoteDocument` is the owner for documents refreshed under `policy.RefreshPolicy`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sized
from contextlib import contextmanager
from typing import Final, Generic, TypeVar

from ..errors import KeySourceUnavailable
from ..events import KeysFetched, KeysFetchFailed, StaleKeysServed, hub
from .fetch import TIMED_OUT
from .flow import CANCEL_SCOPE, Call, CancelScope, Flow, run, run_async
from .policy import CachedDocument, Decision, RefreshPolicy

__all__ = ["Flight", "RemoteDocument", "SingleFlight", "observed_fetch"]

_log = logging.getLogger("accesstoken")
S = TypeVar("S", bound="Sized | None")

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# How long past its deadline a flight is awaited before its waiters give up on it. The
# fetch enforces the deadline itself; this only covers an owner that can no longer run
# (a sync call blocking the event loop that was to finish the fetch, a stopped loop).
_GRACE: Final = 0.25


class Flight(Generic[T]):
    """One call under way that several callers wait for; `done` resolves to its result."""

    __slots__ = ("deadline", "done", "scope", "tag")

    def __init__(self, timeout: float, tag: object = None) -> None:
        self.deadline = time.monotonic() + timeout
        self.done: concurrent.futures.Future[T] = concurrent.futures.Future()
        # A running future cannot be cancelled, so a waiter that gives up (asyncio.wait_for
        # cancels what it wraps) never cancels the flight for the others.
        self.done.set_running_or_notify_cancel()
        self.scope = CancelScope()
        self.tag = tag  # the owner's note about this call (a cache's sequence number)

    def remaining(self) -> float:
        return max(0.0, self.deadline + _GRACE - time.monotonic())


class SingleFlight(Generic[K, T]):
    """Flights by key: the first caller of a key starts one, every caller waits on it.

    Args:
        timeout: seconds a call may take; its waiters give up after that.
        settle: the owner's bookkeeping when a flight ends (success or failure), under the
            lock, before any waiter is woken.
    """

    def __init__(
        self, timeout: float, settle: Callable[[K, Flight[T], T | None, BaseException | None], None]
    ) -> None:
        self.lock = threading.Lock()
        self._timeout = timeout
        self._settle = settle
        self._flights: dict[K, Flight[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references

    def live_locked(self, key: K) -> Flight[T] | None:
        """Return the flight of `key` under way, if any (hold `lock`)."""
        flight = self._flights.get(key)
        if flight is not None and flight.remaining() == 0:
            # Its owner is gone (a stopped loop, a blocked thread): count it as failed.
            self._end_locked(key, flight, None, KeySourceUnavailable(TIMED_OUT))
            return None
        return flight

    def start_locked(self, key: K, tag: object = None) -> Flight[T]:
        """Return a new flight of `key`, which the caller must start (hold `lock`)."""
        flight: Flight[T] = Flight(self._timeout, tag)
        self._flights[key] = flight
        return flight

    def join_locked(self, key: K) -> tuple[Flight[T], bool]:
        """Return the flight of `key` and whether the caller must start it (hold `lock`)."""
        flight = self.live_locked(key)
        if flight is not None:
            return flight, False
        return self.start_locked(key), True

    def _end_locked(
        self, key: K, flight: Flight[T], result: T | None, error: BaseException | None
    ) -> None:
        if flight.done.done():
            return  # settled already: the first outcome wins
        self._settle(key, flight, result, error)
        if self._flights.get(key) is flight:
            del self._flights[key]
        if error is None:
            flight.done.set_result(result)  # type: ignore[arg-type]  # T on success
        else:
            flight.done.set_exception(error)

    def _end(
        self, key: K, flight: Flight[T], result: T | None, error: BaseException | None
    ) -> None:
        with self.lock:
            self._end_locked(key, flight, result, error)

    def _give_up(self, key: K, flight: Flight[T]) -> T:
        """A waiter's deadline passed: fail the flight (unless it just ended) and cut it loose."""
        self._end(key, flight, None, KeySourceUnavailable(TIMED_OUT))
        flight.scope.cancel()
        return _outcome(flight)

    # -- the sync shell: a worker thread, and a bounded wait --------------------------------

    def wait(self, key: K, flight: Flight[T], start: bool, call: Callable[[], Flow[T]]) -> T:
        """Return the result of `flight`, starting `call` in a worker when `start`.

        Raises:
            KeySourceUnavailable: the call failed or did not end by the deadline.
        """
        if start:
            # A worker of its own, so that this bounded wait, not the socket's per-read
            # timeout, decides how long the caller is held.
            context = contextvars.copy_context()
            worker = threading.Thread(
                target=context.run,
                args=(self._own, key, flight, call),
                name="accesstoken-fetch",
                daemon=True,
            )
            worker.start()
        concurrent.futures.wait((flight.done,), timeout=flight.remaining())
        if not flight.done.done():
            return self._give_up(key, flight)
        return _outcome(flight)

    def _own(self, key: K, flight: Flight[T], call: Callable[[], Flow[T]]) -> None:
        CANCEL_SCOPE.set(flight.scope)
        try:
            result = run(call())
        except Exception as exc:  # KeySourceUnavailable, or a bug every waiter must see
            self._end(key, flight, None, exc)
        else:
            self._end(key, flight, result, None)

    # -- the async shell: a task, and a bounded wait ----------------------------------------

    async def wait_async(
        self, key: K, flight: Flight[T], start: bool, call: Callable[[], Flow[T]]
    ) -> T:
        """Return the result of `flight` without blocking the event loop; see `wait()`."""
        if start:
            # A task of its own: a caller cancelled mid-call leaves it to the other waiters.
            task = asyncio.get_running_loop().create_task(self._own_async(key, flight, call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # asyncio.wait raises neither the flight's error nor a timeout: _outcome reports both.
        waiter = asyncio.wrap_future(flight.done)
        await asyncio.wait((waiter,), timeout=flight.remaining())
        if not waiter.done():
            waiter.cancel()  # only this wait: a running flight cannot be cancelled
            return self._give_up(key, flight)
        waiter.exception()  # seen here, so asyncio does not report it as never retrieved
        return _outcome(flight)

    async def _own_async(self, key: K, flight: Flight[T], call: Callable[[], Flow[T]]) -> None:
        try:
            result = await asyncio.wait_for(run_async(call()), self._timeout)
        except asyncio.TimeoutError:
            self._end(key, flight, None, KeySourceUnavailable(TIMED_OUT))
        except asyncio.CancelledError:
            self._end(key, flight, None, KeySourceUnavailable(TIMED_OUT))
            raise
        except Exception as exc:  # KeySourceUnavailable, or a bug every waiter must see
            self._end(key, flight, None, exc)
        else:
            self._end(key, flight, result, None)

    def call(self, key: K, flight: Flight[T], start: bool, call: Callable[[], Flow[T]]) -> Call[T]:
        """Return the `Call` a flow yields to wait for `flight` (starting it when `start`)."""
        return Call(self.wait, self.wait_async, (key, flight, start, call))


def _outcome(flight: Flight[T]) -> T:
    """Return the result of a settled flight, or raise its failure anew for this caller."""
    try:
        return flight.done.result(timeout=0)
    except KeySourceUnavailable as exc:  # a new error per waiter: tracebacks are per raise
        raise KeySourceUnavailable(exc.description) from exc


class RemoteDocument(Generic[T]):
    """A document fetched by a flow, kept and refreshed under a `RefreshPolicy`.

    The fetch flow does the I/O and parsing and raises `KeySourceUnavailable` on failure;
    this class decides nothing itself, it asks `CachedDocument` under the engine's lock.

    Args:
        fetch: returns a flow that fetches the document and its max-age (None: unset).
        policy: how long it stays fresh and how often it may be fetched.
        timeout: seconds a fetch may take.
        clock: monotonic seconds.
        url: the document's URL, for events.
        source: the object the document serves, for events.
    """

    def __init__(
        self,
        fetch: Callable[[], Flow[tuple[T, float | None]]],
        *,
        policy: RefreshPolicy,
        timeout: float,
        clock: Callable[[], float],
        url: str,
        source: object,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._url = url  # for events: which document
        self._source = source  # for events: the key source (or verifier) it serves
        self._flights: SingleFlight[None, tuple[T, float | None]] = SingleFlight(
            timeout, self._settle_locked
        )
        self._cache: CachedDocument[T] = CachedDocument(policy)
        # The document and when it stops being fresh, replaced whole (under the lock) by every
        # response the cache accepts: a warm read, once per token, then needs no lock.
        self._fresh: tuple[T, float] | None = None
        self._failure: KeySourceUnavailable | None = None  # why the last fetch failed

    def fresh(self) -> T | None:
        """Return the document while it is fresh, without taking the lock; else None.

        Fresh implies servable (a document is dropped only `max_stale` after it stops being
        fresh), so this answers exactly as `CachedDocument.decide` would with SERVE.
        """
        fresh = self._fresh
        if fresh is not None and self._clock() < fresh[1]:
            return fresh[0]
        return None

    def get(self, *, forced: bool = False) -> Flow[T | None]:
        """Return the document (`forced`: a newer one, or None when declined), as a flow.

        Raises:
            KeySourceUnavailable: no usable document and none could be fetched.
        """
        if not forced and (fresh := self.fresh()) is not None:
            return fresh
        with self._flights.lock:
            flight = self._flights.live_locked(None)
            now = self._clock()
            decision = self._cache.decide(now, forced=forced)
            if decision is Decision.SERVE:
                return self._served(self._cache.current(now), now)
            if decision is Decision.DECLINE:
                return None
            start = flight is None
            if flight is None:
                if decision is Decision.UNAVAILABLE:
                    raise self._unavailable()
                flight = self._flights.start_locked(None, tag=self._cache.begin())
        try:
            yield self._flights.call(None, flight, start, self._fetch)
            succeeded = True
        except KeySourceUnavailable:
            succeeded = False
        with self._flights.lock:
            now = self._clock()
            value = self._cache.current(now)
            if value is None:
                raise self._unavailable()
        # A forced refresh that failed has nothing newer; the caller keeps the set it has.
        if forced and not succeeded:
            return None
        return self._served(value, now)

    def _served(self, value: T | None, now: float) -> T | None:
        """Return `value`, telling listeners when it is past its freshness (a failed refresh)."""
        if hub.active and value is not None and now >= self._cache.fresh_until:
            age = now - self._cache.fresh_until
            hub.emit(StaleKeysServed(self._source, self._url, age))
        return value

    def _unavailable(self) -> KeySourceUnavailable:
        # A new exception per caller, with the fixed description of the last failure.
        if self._failure is None:
            return KeySourceUnavailable()
        error = KeySourceUnavailable(self._failure.description)
        error.__cause__ = self._failure
        return error

    def _settle_locked(
        self,
        _key: None,
        flight: Flight[tuple[T, float | None]],
        result: tuple[T, float | None] | None,
        error: BaseException | None,
    ) -> None:
        sequence = flight.tag
        assert isinstance(sequence, int)
        now = self._clock()
        if error is not None or result is None:
            self._cache.failed(sequence, now)
            self._failure = error if isinstance(error, KeySourceUnavailable) else None
        elif self._cache.succeeded(sequence, result[0], result[1], now):
            self._fresh = (result[0], self._cache.fresh_until)


@contextmanager
def observed_fetch(source: object, url: str) -> Iterator[Callable[[S], S]]:
    """Log and emit the outcome of fetching a key set or a discovery document.

    ```python
    with observed_fetch(source, url) as fetched:
        key_set = fetched(parse_jwks(...))   # a sized value: its keys; None: a document
    ```
    On success: INFO with the URL and key count, and `KeysFetched`. On a
    `KeySourceUnavailable`: `KeysFetchFailed` with its fixed description.
    """
    started = time.monotonic()
    counted: list[int] = []

    def fetched(value: S) -> S:
        counted.append(len(value) if value is not None else 0)
        return value

    try:
        yield fetched
    except KeySourceUnavailable as exc:
        if hub.active:
            duration = time.monotonic() - started
            hub.emit(KeysFetchFailed(source, url, exc.description, duration))
        raise
    if counted:
        _log.info("fetched %s: %d keys", url, counted[0])
        if hub.active:
            hub.emit(KeysFetched(source, url, counted[0], time.monotonic() - started))
