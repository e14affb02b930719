"""The gRPC plumbing of `accesstoken.grpc`: handlers rebuilt, metadata read, calls ended.

A `grpc.RpcMethodHandler` has four kinds (unary or streaming, each way) and one behaviour
attribute per kind; `rewrapped` rebuilds a handler of the same kind around a guarded
behaviour. Both interceptors share everything here; only their drivers (sync or async)
differ.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, Final, NoReturn

import grpc
import grpc.aio

from ._authenticate import Carried, Guard, Refusal
from ._verifier import Verifier
from .errors import AccessTokenError

__all__ = ["Interceptor", "Wrap", "abort", "carried", "each_in", "ending", "rewrapped"]

CODES: Final = {403: grpc.StatusCode.PERMISSION_DENIED, 503: grpc.StatusCode.UNAVAILABLE}
#: Each kind of method: the handler's attribute and the factory of a handler of that kind.
KINDS: Final = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}
#: Guards a handler's behaviour: `(behaviour, guard) -> guarded behaviour`.
Wrap = Callable[[Callable[..., Any], Guard], Callable[..., Any]]


def rewrapped(handler: Any, wrap: Wrap, guard: Guard) -> Any:
    """Return a handler of `handler`'s kind whose behaviour is `wrap`ped with `guard`."""
    attribute, factory = KINDS[handler.request_streaming, handler.response_streaming]
    return factory(
        wrap(getattr(handler, attribute), guard),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def carried(context: grpc.ServicerContext | grpc.aio.ServicerContext[Any, Any]) -> Carried:
    """Return the call's `authorization` metadata values (gRPC has no query string)."""
    metadata = context.invocation_metadata() or ()
    return [value for key, value in metadata if key == "authorization"], "", None


def ending(refusal: Refusal) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """Return how a refused call ends: its status code, details and trailing metadata."""
    answer = refusal.response
    code = CODES.get(answer.status_code, grpc.StatusCode.UNAUTHENTICATED)
    challenge = answer.headers.get("WWW-Authenticate")
    return code, refusal.error.description, (("www-authenticate", challenge),) if challenge else ()


def abort(context: grpc.ServicerContext, refusal: Refusal) -> NoReturn:
    code, details, trailers = ending(refusal)
    context.set_trailing_metadata(trailers)
    context.abort(code, details)


def each_in(
    call: contextvars.Context, responses: Iterator[Any], context: grpc.ServicerContext
) -> Iterator[Any]:
    """Yield each of `responses`, computed in the context of the call."""
    while True:
        try:
            yield call.run(next, responses)
        except StopIteration:
            return
        except AccessTokenError as exc:
            abort(context, Guard().refuse(exc))


class Interceptor:
    """What both interceptors share: the guard of each method, and the wrapping."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        scopes: Mapping[str, Collection[str]] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        if isinstance(exclude, str):
            raise TypeError('exclude must be a collection of prefixes, such as ("/grpc.health",)')
        self.verifier = verifier
        self.exclude = tuple(exclude)
        self._handlers: dict[str, tuple[Any, Any]] = {}  # by method: (handler, guarded)
        self._guards = {method: Guard(scopes=tuple(s)) for method, s in (scopes or {}).items()}

    def _guarded(self, handler: Any, method: str, wrap: Wrap) -> Any:
        if handler is None or method.startswith(self.exclude):
            return handler
        # The server asks for every call; the handler of a method is rebuilt only if it changed.
        known = self._handlers.get(method)
        if known is None or known[0] is not handler:
            guard = self._guards.get(method, Guard())
            known = self._handlers[method] = (handler, rewrapped(handler, wrap, guard))
        return known[1]
