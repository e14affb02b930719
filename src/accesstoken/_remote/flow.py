"""Flows: I/O written once, driven by a thread or by an event loop.

A flow is a generator that yields a `Call` for each piece of I/O it needs and receives
its result (or has its exception thrown in at the `yield`), as httpx's `Auth.auth_flow()`
does for authentication. A `Call` names the sync and the async form of one operation;
`run()` makes the sync calls, `run_async()` awaits the async ones. Everything a flow
decides (redirects, size caps, deadlines, which discovery URL next, what to cache) is
therefore written once, and these two drivers are the only sync/async pair below the
verifiers.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Generator
from contextlib import suppress
from contextvars import ContextVar
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar

__all__ = ["CANCEL_SCOPE", "Call", "CancelScope", "Flow", "run", "run_async"]

T = TypeVar("T")


class Call(NamedTuple, Generic[T]):
    """One operation a flow needs, in both forms: `sync(*args)` or `await async_(*args)`.

    A named tuple, not a frozen dataclass: a flow builds one per operation (a DPoP proof's
    replay check, every verification watched by a listener), and a frozen dataclass's
    construction costs about five thousand instructions more.
    """

    sync: Callable[..., T]
    async_: Callable[..., Awaitable[T]]
    args: tuple[Any, ...] = ()


#: A flow that ends with a `T`: it yields `Call`s and is sent their results.
Flow: TypeAlias = Generator[Call[Any], Any, T]


def run(flow: Flow[T]) -> T:
    """Drive `flow` in this thread, making each call it yields; return what it returns."""
    try:
        call = next(flow)
        while True:
            try:
                result = call.sync(*call.args)
            except BaseException as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as done:
        value: T = done.value
        return value


async def run_async(flow: Flow[T]) -> T:
    """Drive `flow` on the running event loop, awaiting each call; return what it returns."""
    try:
        call = next(flow)
        while True:
            try:
                result = await call.async_(*call.args)
            except BaseException as exc:  # cancellation too: the flow's cleanup must run
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as done:
        value: T = done.value
        return value


class CancelScope:
    """How to interrupt the blocking I/O of a flow run in a worker thread, once given up.

    A thread blocked in `recv()` cannot be stopped from outside, and a server that sends
    one byte at a time never lets a per-read timeout fire. The I/O registers an undo
    (`on_cancel`: shut the socket down) and whoever gives up on the flow calls `cancel()`,
    which makes the blocked read fail at once, so the worker ends instead of lingering.
    """

    __slots__ = ("_callbacks", "_cancelled", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], object]] = []
        self._cancelled = False

    def on_cancel(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the scope is cancelled (at once if it already is)."""
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)
                return
        _quietly(callback)

    def cancel(self) -> None:
        """Run every registered callback, once."""
        with self._lock:
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _quietly(callback)


def _quietly(callback: Callable[[], object]) -> None:
    with suppress(OSError):  # the socket is closed already: nothing left to interrupt
        callback()


#: The scope of the flow this thread runs for a single flight, if any.
CANCEL_SCOPE: ContextVar[CancelScope | None] = ContextVar("accesstoken_cancel", default=None)
