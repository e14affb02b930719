"""Bearer tokens for Django views and Django REST framework.

`AccessTokenMiddleware` sets `request.access_token` (None without a token) and refuses a
present but invalid one; `@require_token(*scopes)` guards one view. Both answer like every
other adapter, with the verifier named by `settings.ACCESSTOKEN_VERIFIER` (`_django_conf.py`).
DRF's `BearerAuthentication` and `HasScopes` live in `_drf.py`, imported from here on first
use, so that plain Django needs no DRF.

Two more settings: `ACCESSTOKEN_RESOURCE`, a `ProtectedResource` whose RFC 9728 document
the middleware serves at its `metadata_path` and which every 401 and 403 challenge names,
and `ACCESSTOKEN_PUBLIC_URL`, the origin clients address behind a proxy, against which a
DPoP proof's `htu` is checked. With a verifier that has `dpop=`, the `DPoP` scheme is
accepted and the verifier is handed the method, URL, `DPoP` header and the client
certificate of the server's `SSL_CLIENT_CERT` (PEM).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

from ._authenticate import (
    Carried,
    Guard,
    Refusal,
    authenticate,
    authenticate_async,
    dpop_options,
    needs_request,
)
from ._certificates import pem_to_der
from ._dpop import RequestContext
from ._resource import ProtectedResource
from ._token import AccessToken
from ._verifier import Verifier

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings
    from django.http import HttpRequest, HttpResponse, JsonResponse

    from ._django_conf import get_verifier
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("accesstoken.django needs Django: pip install 'accesstoken[django]'") from exc

if TYPE_CHECKING:
    from ._drf import BearerAuthentication, HasScopes

__all__ = [
    "AccessTokenMiddleware",
    "BearerAuthentication",
    "HasScopes",
    "TokenRequest",
    "get_verifier",
    "require_token",
]

_View = TypeVar("_View", bound=Callable[..., Any])


class TokenRequest(HttpRequest):
    """The request of a view under `@require_token`, as type checkers should see it."""

    access_token: AccessToken


def carried(request: HttpRequest) -> Carried:
    """Return what `request` carries for authentication (WSGI and ASGI requests alike)."""
    value = request.META.get("HTTP_AUTHORIZATION")
    return ([value] if value is not None else []), request.META.get("QUERY_STRING", "")


def _resource() -> ProtectedResource | None:
    resource = getattr(settings, "ACCESSTOKEN_RESOURCE", None)
    if resource is not None and not isinstance(resource, ProtectedResource):
        raise TypeError("ACCESSTOKEN_RESOURCE must be a ProtectedResource or None")
    return resource


def _checking(guard: Guard) -> tuple[Verifier, Guard]:
    """Return the verifier, and `guard` with the project's resource, public URL and DPoP."""
    verifier = get_verifier()
    dpop, resource = dpop_options(verifier), _resource()
    public_url = getattr(settings, "ACCESSTOKEN_PUBLIC_URL", None)
    if dpop is None and resource is None and public_url is None:
        return verifier, guard
    return verifier, replace(guard, dpop=dpop, resource=resource, public_url=public_url)


def request_context(request: HttpRequest, guard: Guard) -> RequestContext | None:
    """Return what the verifier checks a bound token against; None when there is nothing.

    The URL is built from the request URI as sent (WSGI `RAW_URI` / `REQUEST_URI`, ASGI
    `raw_path`); only without either from the decoded path, quoted again. Its host is
    `get_host()`'s, so a host outside `ALLOWED_HOSTS` is refused as Django refuses it.
    """
    meta = request.META
    authorization = carried(request)[0]
    dpop = meta.get("HTTP_DPOP")  # a server joins several lines with ", "
    certificate = pem_to_der(meta.get("SSL_CLIENT_CERT"))
    if not needs_request(guard, authorization, dpop, certificate):
        return None
    raw = meta.get("RAW_URI") or meta.get("REQUEST_URI")
    scope = getattr(request, "scope", None)
    if raw:
        path, _, query = raw.partition("?")
    elif scope is not None and scope.get("raw_path"):
        path, query = scope["raw_path"].decode("latin-1"), meta.get("QUERY_STRING", "")
    else:
        path, query = quote(request.path), meta.get("QUERY_STRING", "")
    url = guard.url(request.scheme or "http", request.get_host(), path, query)
    return RequestContext(request.method or "GET", url, dpop, certificate)


def _metadata(request: HttpRequest) -> HttpResponse | None:
    """Return the RFC 9728 document when `request` asks for it; else None."""
    resource = _resource()
    if resource is None or request.method != "GET" or request.path != resource.metadata_path:
        return None
    return JsonResponse(resource.metadata())


def _admit(request: HttpRequest, outcome: AccessToken | Refusal | None) -> HttpResponse | None:
    """Return the answer to a refused request; else keep its token and return None."""
    if isinstance(outcome, Refusal):
        answer = outcome.response
        return JsonResponse(answer.body, status=answer.status_code, headers=answer.headers)
    request.access_token = outcome  # type: ignore[attr-defined]
    return None


class AccessTokenMiddleware:
    """Set `request.access_token`; refuse a request whose token is present but invalid."""

    sync_capable = async_capable = True
    _guard = Guard(optional=True)

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        document = _metadata(request)
        if document is not None:
            return document
        verifier, guard = _checking(self._guard)
        context = request_context(request, guard)
        outcome = authenticate(verifier, guard, carried(request), (), context)
        return _admit(request, outcome) or self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        document = _metadata(request)
        if document is not None:
            return document
        verifier, guard = _checking(self._guard)
        context = request_context(request, guard)
        outcome = await authenticate_async(verifier, guard, carried(request), (), context)
        return _admit(request, outcome) or await self.get_response(request)


def require_token(
    *scopes: str,
    roles: Collection[str] = (),
    acr_values: str | Collection[str] = (),
    max_age: float | None = None,
) -> Callable[[_View], _View]:
    """Return a view decorator demanding a valid token with `scopes` (and `roles`).

    `acr_values` and `max_age` demand a strong or recent enough sign-in (RFC 9470).
    Works without the middleware; an `async def` view is checked with `verify_async()`.
    """
    base = Guard().demanding(scopes, roles, acr_values=acr_values, max_age=max_age)

    def decorate(view: _View) -> _View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                verifier, guard = _checking(base)
                context = request_context(request, guard)
                outcome = await authenticate_async(verifier, guard, carried(request), (), context)
                return _admit(request, outcome) or await view(request, *args, **kwargs)

            return cast(_View, async_view)

        @functools.wraps(view)
        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            verifier, guard = _checking(base)
            context = request_context(request, guard)
            outcome = authenticate(verifier, guard, carried(request), (), context)
            return _admit(request, outcome) or view(request, *args, **kwargs)

        return cast(_View, sync_view)

    return decorate


def __getattr__(name: str) -> Any:
    """Import the DRF classes on first use, so that plain Django needs no DRF."""
    if name in ("BearerAuthentication", "HasScopes"):
        from . import _drf

        return getattr(_drf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
