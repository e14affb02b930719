"""What the adapters of view-function frameworks (Flask, Django) share.

`wsgi_carried()` reads what a request carried for the shared step from its WSGI environ
(Django's `META` is one, under ASGI too); `guarded_view()` wraps a sync or an async view so
that it runs only once its request is authenticated, through the one authentication step:
the framework's own code stays in its adapter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar, cast

from ._authenticate import Carried, Guard, Refusal, authenticate, authenticate_async, needs_request
from ._certificates import pem_to_der
from ._dpop import RequestContext
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError

__all__ = ["guarded_view", "wsgi_carried"]

View = TypeVar("View", bound=Callable[..., Any])
#: What a view's request is authenticated with, from the view's arguments.
Gate: TypeAlias = Callable[[tuple[Any, ...]], tuple[Verifier, Guard, Carried]]
#: Given the view's arguments and the outcome: the answer that replaces the view (a
#: refusal), or None once the token is kept where the view reads it.
Admit: TypeAlias = Callable[[tuple[Any, ...], AccessToken | Refusal | None], Any]


def wsgi_carried(
    guard: Guard, environ: Mapping[str, Any], where: Callable[[], tuple[str, str, str]]
) -> Carried:
    """Return what a WSGI request carried: its token values and, when needed, its facts.

    `where()` says where the request went: its scheme, host and raw path (the framework's,
    as sent or quoted again), asked only when a bound token needs the URL, so a plain bearer
    request pays nothing for it, and a framework's check of the `Host` header (Django's
    `ALLOWED_HOSTS`) runs only where it would run anyway. The URL's path and query are the
    request URI as sent (`RAW_URI`, `REQUEST_URI`); only without either `where()`'s path.
    """
    value = environ.get("HTTP_AUTHORIZATION")
    authorization = [value] if value is not None else []
    query = environ.get("QUERY_STRING", "")
    dpop = environ.get("HTTP_DPOP")  # a server joins several lines with ", "
    certificate = pem_to_der(environ.get("SSL_CLIENT_CERT"))
    if not needs_request(guard, authorization, dpop, certificate):
        return authorization, query, None
    scheme, host, path = where()
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path, _, sent_query = uri.partition("?") if uri else (path, "", query)
    url = guard.url(scheme, host, path, sent_query)
    method = environ.get("REQUEST_METHOD") or "GET"
    return authorization, query, RequestContext(method, url, dpop, certificate)


def guarded_view(
    view: View,
    gate: Gate,
    admit: Admit,
    *,
    asynchronous: bool,
    on_error: Callable[[Refusal], Any] | None = None,
) -> View:
    """Return `view` guarded: authenticated through `gate`, answered by `admit` if refused.

    An `asynchronous` view is awaited and its request verified with `verify_async()`.
    With `on_error`, an `AccessTokenError` the view raises (`token.require_roles()`) is
    answered as a refusal of the guard, by `on_error`.
    """

    # Two plain wrappers, not one flow both drive: a flow's generator, its calls and the
    # StopIteration that ends it cost a view some 5 µs (see docs/performance.md).
    if asynchronous:

        async def async_view(*args: Any, **kwargs: Any) -> Any:
            verifier, guard, carried = gate(args)
            answer = admit(args, await authenticate_async(verifier, guard, carried))
            if answer is not None:
                return answer
            try:
                return await view(*args, **kwargs)
            except AccessTokenError as exc:
                return _answered(exc, guard, on_error)

        return cast(View, functools.wraps(view)(async_view))

    def sync_view(*args: Any, **kwargs: Any) -> Any:
        verifier, guard, carried = gate(args)
        answer = admit(args, authenticate(verifier, guard, carried))
        if answer is not None:
            return answer
        try:
            return view(*args, **kwargs)
        except AccessTokenError as exc:
            return _answered(exc, guard, on_error)

    return cast(View, functools.wraps(view)(sync_view))


def _answered(
    exc: AccessTokenError, guard: Guard, on_error: Callable[[Refusal], Any] | None
) -> Any:
    """Return the answer to `exc`, raised by a view, as a refusal of its guard; without
    `on_error`, raise it again for the framework's own handler."""
    if on_error is None:
        raise exc
    return on_error(guard.refuse(exc))
