"""Events: what every verifier and key source in the process did, for logs and metrics.

```python
from accesstoken import events

def listen(event: events.Event) -> None:
    if isinstance(event, events.TokenRejected):
        print(type(event.error).__name__, event.duration)

with events.subscribe(listen):
    ...
```

A listener runs synchronously in the thread (or task) that emitted the event. One that
raises is logged at WARNING on the `accesstoken` logger, once per listener, and never
changes a verification's result. No event carries a raw token, a client secret or an
introspection response: `TokenAccepted.token` is the `AccessToken`, whose `repr` hides
`raw`. Without listeners, emitting is one attribute test on the hot path (`hub.active`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from ._token import AccessToken
from .errors import AccessTokenError

__all__ = [
    "Event",
    "IntrospectionCalled",
    "KeysFetchFailed",
    "KeysFetched",
    "Listener",
    "StaleKeysServed",
    "Subscription",
    "TokenAccepted",
    "TokenRejected",
    "subscribe",
]

_log = logging.getLogger("accesstoken")


@dataclass(frozen=True, slots=True)
class Event:
    """Something a verifier or key source did; `source` is the object that did it."""

    source: object = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenAccepted(Event):
    """A verifier returned a token.

    `token` is the verified `AccessToken` (its `repr` hides the raw token); `duration` the
    seconds the verification took, from the call to its result.
    """

    token: AccessToken
    duration: float


@dataclass(frozen=True, slots=True)
class TokenRejected(Event):
    """A verifier raised (a `TokenError`, or a `KeySourceError`: the keys were out of reach).

    `error` is the exception the caller got; alert on its class (`TokenExpired` is routine,
    a burst of `InvalidSignature` is not).
    """

    error: AccessTokenError
    duration: float


@dataclass(frozen=True, slots=True)
class KeysFetched(Event):
    """A JWK Set (`keys` its usable keys) or a discovery document (`keys` 0) arrived."""

    url: str
    keys: int
    duration: float


@dataclass(frozen=True, slots=True)
class KeysFetchFailed(Event):
    """Fetching a JWK Set or a discovery document failed.

    `reason` is one of the library's fixed descriptions ("The authorization server did not
    answer in time.", ...), never text the server sent; `duration` includes the wait for a
    timeout.
    """

    url: str
    reason: str
    duration: float


@dataclass(frozen=True, slots=True)
class StaleKeysServed(Event):
    """An expired key set served because its refresh failed; `age` is seconds past expiry."""

    url: str
    age: float


@dataclass(frozen=True, slots=True)
class IntrospectionCalled(Event):
    """An introspection endpoint answered (`active`) or failed (`active` None).

    Emitted once per request sent: answers served from the cache emit nothing.
    """

    url: str
    active: bool | None
    duration: float


Listener = Callable[[Event], object]


class _Hub:
    """The listeners of the process; `active` is the one thing the hot path reads."""

    __slots__ = ("_failed", "_lock", "active", "listeners")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.listeners: tuple[Listener, ...] = ()  # replaced whole: emit() reads no lock
        self.active = False
        self._failed: set[int] = set()  # ids of listeners already reported as raising

    def add(self, listener: Listener) -> None:
        with self._lock:
            self.listeners = (*self.listeners, listener)
            self.active = True

    def remove(self, listener: Listener) -> None:
        with self._lock:
            listeners = list(self.listeners)
            if listener in listeners:
                listeners.remove(listener)
            self.listeners = tuple(listeners)
            self.active = bool(listeners)
            self._failed.discard(id(listener))

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                self._report(listener)

    def _report(self, listener: Listener) -> None:
        with self._lock:
            if id(listener) in self._failed:
                return
            self._failed.add(id(listener))
        _log.warning("an accesstoken event listener raised; its errors are ignored", exc_info=True)


#: The process-wide hub every verifier and key source emits through.
hub = _Hub()


class Subscription:
    """A listener's registration: `close()` it, or use it as a context manager."""

    __slots__ = ("_listener", "_open")

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._open = True
        hub.add(listener)

    def close(self) -> None:
        """Stop delivering events to the listener (closing twice does nothing)."""
        if self._open:
            self._open = False
            hub.remove(self._listener)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def subscribe(listener: Listener) -> Subscription:
    """Deliver every event of every verifier and key source in the process to `listener`.

    Raises:
        TypeError: `listener` is not callable.
    """
    if not callable(listener):
        raise TypeError("a listener must be callable with one event")
    return Subscription(listener)
