"""Bearer tokens for Django views and Django REST framework.

`AccessTokenMiddleware` sets `request.access_token` (None without a token) and refuses a
present but invalid one; `@require_token(*scopes)` guards one view. Both answer like every
other adapter, with the verifier named by `settings.ACCESSTOKEN_VERIFIER` (`_django_conf.py`).
DRF's `BearerAuthentication` and `HasScopes` live in `_drf.py`, imported from here on first
use, so that plain Django needs no DRF.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._authenticate import Carried, Guard, Refusal, authenticate, authenticate_async
from ._token import AccessToken

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
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
        outcome = authenticate(get_verifier(), self._guard, carried(request))
        return _admit(request, outcome) or self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        outcome = await authenticate_async(get_verifier(), self._guard, carried(request))
        return _admit(request, outcome) or await self.get_response(request)


def require_token(*scopes: str, roles: Collection[str] = ()) -> Callable[[_View], _View]:
    """Return a view decorator demanding a valid token with `scopes` (and `roles`).

    Works without the middleware; an `async def` view is checked with `verify_async()`.
    """
    guard = Guard().demanding(scopes, roles)

    def decorate(view: _View) -> _View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                outcome = await authenticate_async(get_verifier(), guard, carried(request))
                return _admit(request, outcome) or await view(request, *args, **kwargs)

            return cast(_View, async_view)

        @functools.wraps(view)
        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            outcome = authenticate(get_verifier(), guard, carried(request))
            return _admit(request, outcome) or view(request, *args, **kwargs)

        return cast(_View, sync_view)

    return decorate


def __getattr__(name: str) -> Any:
    """Import the DRF classes on first use, so that plain Django needs no DRF."""
    if name in ("BearerAuthentication", "HasScopes"):
        from . import _drf

        return getattr(_drf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
