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
from typing import TYPE_CHECKING, Any

from ._remote.flow import Call, Flow, run, run_async
from ._token import AccessToken
from .errors import AccessTokenError
from .events import TokenAccepted, TokenRejected, hub

if TYPE_CHECKING:
    from ._dpop import RequestContext

__all__ = ["ObservedVerifier", "refused", "unobserved"]

_log = logging.getLogger("accesstoken")

#: What a call demands beyond scopes: `request`, then `acr_values` and `max_age`.
Context = tuple["RequestContext | None", "str | Collection[str]", "float | None"]
NO_CONTEXT: Context = (None, (), None)
Verify = Callable[[str | bytes, Collection[str], Context], AccessToken]
VerifyAsync = Callable[[str | bytes, Collection[str], Context], Awaitable[AccessToken]]


def refused(error: AccessTokenError) -> AccessTokenError:
    """Log a refusal at DEBUG (its class and fixed description) and return it, to raise."""
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug("token refused: %s: %s", type(error).__name__, error.description)
    return error


class ObservedVerifier:
    """The public `verify()` / `verify_async()` of a verifier, observed once per call."""

    def _verify(self, raw: str | bytes, scopes: Collection[str], context: Context) -> AccessToken:
        raise NotImplementedError

    async def _verify_async(
        self, raw: str | bytes, scopes: Collection[str], context: Context
    ) -> AccessToken:
        raise NotImplementedError

    def verify(
        self,
        raw: str | bytes,
        scopes: Collection[str] = (),
        *,
        request: RequestContext | None = None,
        acr_values: str | Collection[str] = (),
        max_age: float | None = None,
    ) -> AccessToken:
        """Return the verified token in `raw` (with or without its "Bearer " or "DPoP " scheme).

        Args:
            raw: the token as received.
            scopes: scopes this call demands, on top of the verifier's `required_scopes`.
            request: what the request carried besides the token (method, URL, a DPoP proof,
                a client certificate), for sender-constrained tokens (RFC 9449, RFC 8705).
            acr_values: step-up (RFC 9470): the token's `acr` must be one of these.
            max_age: step-up: the token's `auth_time` must be at most this many seconds old.

        Raises:
            TokenError: one subclass per reason the token is refused.
            KeySourceError: what is needed to check it cannot be reached right now.
        """
        context = (
            NO_CONTEXT
            if request is None and not acr_values and max_age is None
            else (request, acr_values, max_age)
        )
        if hub.active:
            return run(self._observing(raw, scopes, context))
        try:
            return self._verify(raw, scopes, context)
        except AccessTokenError as exc:
            raise refused(exc)  # noqa: B904 - the same exception, re-raised

    async def verify_async(
        self,
        raw: str | bytes,
        scopes: Collection[str] = (),
        *,
        request: RequestContext | None = None,
        acr_values: str | Collection[str] = (),
        max_age: float | None = None,
    ) -> AccessToken:
        """Return the verified token without blocking the event loop; see `verify()`."""
        context = (
            NO_CONTEXT
            if request is None and not acr_values and max_age is None
            else (request, acr_values, max_age)
        )
        if hub.active:
            return await run_async(self._observing(raw, scopes, context))
        try:
            return await self._verify_async(raw, scopes, context)
        except AccessTokenError as exc:
            raise refused(exc)  # noqa: B904 - the same exception, re-raised

    def _observing(
        self, raw: str | bytes, scopes: Collection[str], context: Context
    ) -> Flow[AccessToken]:
        started = time.perf_counter()
        try:
            call = Call(self._verify, self._verify_async, (raw, scopes, context))
            token: AccessToken = yield call
        except AccessTokenError as exc:
            hub.emit(TokenRejected(self, exc, time.perf_counter() - started))
            raise refused(exc)  # noqa: B904 - the same exception, re-raised
        hub.emit(TokenAccepted(self, token, time.perf_counter() - started))
        return token


def unobserved(verifier: Any) -> tuple[Verify, VerifyAsync]:
    """Return how a verifier made of others calls `verifier`: without its own events."""
    if isinstance(verifier, ObservedVerifier):
        return verifier._verify, verifier._verify_async

    def verify(raw: str | bytes, scopes: Collection[str], context: Context) -> AccessToken:
        return verifier.verify(raw, scopes, **_keywords(context))  # type: ignore[no-any-return]

    async def verify_async(
        raw: str | bytes, scopes: Collection[str], context: Context
    ) -> AccessToken:
        return await verifier.verify_async(raw, scopes, **_keywords(context))  # type: ignore[no-any-return]

    return verify, verify_async


def _keywords(context: Context) -> dict[str, Any]:
    """Return the keywords of a call's context; none at all for a plain call, so that a
    `Verifier` of the application's that knows only `(raw, scopes)` keeps working."""
    if context is NO_CONTEXT:
        return {}
    request, acr_values, max_age = context
    return {"request": request, "acr_values": acr_values, "max_age": max_age}
