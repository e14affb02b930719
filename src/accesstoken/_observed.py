"""What every verifier does around a verification: one event and, on refusal, a DEBUG line.

`ObservedVerifier` gives a verifier its public `verify()` and `verify_async()` around the
`_verify()` and `_verify_async()` it implements. With no event listener (the usual case)
they add one attribute test and a `try` (free in CPython 3.11 until something raises);
with listeners, the call runs as a flow that times it and emits `TokenAccepted` or
`TokenRejected`. A verifier made of others (`TokenRouter`, `MultiIssuerVerifier`) calls
their `_verify` directly (`unobserved()`), so one call emits one event, from the verifier
the caller called.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection

from ._remote.flow import Call, Flow, run, run_async
from ._token import AccessToken
from .errors import AccessTokenError
from .events import TokenAccepted, TokenRejected, hub

__all__ = ["ObservedVerifier", "refused", "unobserved"]

_log = logging.getLogger("accesstoken")

Verify = Callable[[str | bytes, Collection[str]], AccessToken]
VerifyAsync = Callable[[str | bytes, Collection[str]], Awaitable[AccessToken]]


def refused(error: AccessTokenError) -> AccessTokenError:
    """Log a refusal at DEBUG (its class and fixed description) and return it, to raise."""
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug("token refused: %s: %s", type(error).__name__, error.description)
    return error


class ObservedVerifier:
    """The public `verify()` / `verify_async()` of a verifier, observed once per call."""

    def _verify(self, raw: str | bytes, scopes: Collection[str]) -> AccessToken:
        raise NotImplementedError

    async def _verify_async(self, raw: str | bytes, scopes: Collection[str]) -> AccessToken:
        raise NotImplementedError

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        """Return the verified token (see the class's own documentation).

        Raises:
            TokenError: one subclass per reason the token is refused.
            KeySourceError: what is needed to check it cannot be reached right now.
        """
        if hub.active:
            return run(self._observing(raw, scopes))
        try:
            return self._verify(raw, scopes)
        except AccessTokenError as exc:
            raise refused(exc)  # noqa: B904 - the same exception, re-raised

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        """Return the verified token without blocking the event loop; see `verify()`."""
        if hub.active:
            return await run_async(self._observing(raw, scopes))
        try:
            return await self._verify_async(raw, scopes)
        except AccessTokenError as exc:
            raise refused(exc)  # noqa: B904 - the same exception, re-raised

    def _observing(self, raw: str | bytes, scopes: Collection[str]) -> Flow[AccessToken]:
        started = time.perf_counter()
        try:
            token: AccessToken = yield Call(self._verify, self._verify_async, (raw, scopes))
        except AccessTokenError as exc:
            hub.emit(TokenRejected(self, exc, time.perf_counter() - started))
            raise refused(exc)  # noqa: B904 - the same exception, re-raised
        hub.emit(TokenAccepted(self, token, time.perf_counter() - started))
        return token


def unobserved(verifier: object) -> tuple[Verify, VerifyAsync]:
    """Return how a verifier made of others calls `verifier`: without its own events."""
    if isinstance(verifier, ObservedVerifier):
        return verifier._verify, verifier._verify_async
    return verifier.verify, verifier.verify_async  # type: ignore[attr-defined]
