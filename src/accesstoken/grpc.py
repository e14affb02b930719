"""Bearer tokens for gRPC servers: `AccessTokenInterceptor` and `AsyncAccessTokenInterceptor`.

```python
server = grpc.server(ThreadPoolExecutor(), interceptors=[AccessTokenInterceptor(verifier)])
server = grpc.aio.server(interceptors=[AsyncAccessTokenInterceptor(verifier)])
```

The interceptor wraps each method's handler in one of the same kind (unary or streaming,
each way), so the token is checked when the call runs, in the server's worker (thread or
task), never in the thread that polls for calls. A refused call ends with the status of the
HTTP answer every adapter sends: 400/401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED` (both
with the challenge as `www-authenticate` trailing metadata), 503 `UNAVAILABLE`.

DPoP (RFC 9449) is not taken here: a proof signs an HTTP method and URL, which a gRPC call
does not have, so `DPoP <token>` is another scheme (401 without an error code) and a
DPoP-bound token sent as `Bearer` is refused by the verifier, as everywhere.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

from ._authenticate import Guard, Refusal, authenticate, authenticate_async
from ._token import AccessToken
from .errors import AccessTokenError

try:
    import grpc
    import grpc.aio

    from ._grpc_calls import Interceptor, abort, carried, each_in, ending
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("accesstoken.grpc needs grpcio: pip install 'accesstoken[grpc]'") from exc

__all__ = ["AccessTokenInterceptor", "AsyncAccessTokenInterceptor", "current_token"]

_token: contextvars.ContextVar[AccessToken] = contextvars.ContextVar("accesstoken_grpc")


def current_token() -> AccessToken:
    """Return the verified token of the call being handled.

    Raises:
        LookupError: called outside a call guarded by an interceptor (or in an excluded one).
    """
    return _token.get()


class AccessTokenInterceptor(Interceptor, grpc.ServerInterceptor):
    """Verify the bearer token of every call of a `grpc.server`, with `verify()`.

    Args:
        verifier: a `TokenVerifier` or any other `Verifier`.
        scopes: the scopes each full method name (`"/orders.v1.Orders/Create"`) demands;
            other methods need any valid token.
        exclude: prefixes of full method names let through unchecked.
    """

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        return self._guarded(continuation(details), details.method, self._wrap)

    def _wrap(self, behaviour: Callable[..., Any], guard: Guard) -> Callable[..., Any]:
        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            outcome = authenticate(self.verifier, guard, carried(context))
            if isinstance(outcome, Refusal):
                abort(context, outcome)
            call = contextvars.copy_context()  # the token of this call, for all its responses
            call.run(_token.set, cast(AccessToken, outcome))
            try:
                result = call.run(behaviour, request, context)
            except AccessTokenError as exc:  # token.require_roles() in the handler
                abort(context, guard.refuse(exc))
            return each_in(call, result, context) if isinstance(result, Iterator) else result

        return guarded


class AsyncAccessTokenInterceptor(Interceptor, grpc.aio.ServerInterceptor):
    """Verify the bearer token of every call of a `grpc.aio.server`, with `verify_async()`.

    Takes the arguments of `AccessTokenInterceptor`.
    """

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        return self._guarded(await continuation(details), details.method, self._wrap)

    def _wrap(self, behaviour: Callable[..., Any], guard: Guard) -> Callable[..., Any]:
        async def admit(context: grpc.aio.ServicerContext[Any, Any]) -> None:
            outcome = await authenticate_async(self.verifier, guard, carried(context))
            if isinstance(outcome, Refusal):
                await context.abort(*ending(outcome))
            _token.set(cast(AccessToken, outcome))  # each call is a task, with its own context

        if inspect.isasyncgenfunction(behaviour):

            async def streamed(request: Any, context: Any) -> AsyncIterator[Any]:
                await admit(context)
                try:
                    async for response in behaviour(request, context):
                        yield response
                except AccessTokenError as exc:
                    await context.abort(*ending(guard.refuse(exc)))

            return streamed

        async def answered(request: Any, context: Any) -> Any:
            await admit(context)
            try:
                return await behaviour(request, context)
            except AccessTokenError as exc:
                await context.abort(*ending(guard.refuse(exc)))

        return answered
