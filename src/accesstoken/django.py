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

from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ._authenticate import Carried, Guard, Refusal, dpop_options
from ._token import AccessToken
from ._verifier import Verifier
from ._wsgi import Gate, guarded_view, wsgi_carried

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.http import HttpRequest, HttpResponse, JsonResponse

    from ._django_conf import Project, get_project, get_verifier
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


def gate(guard: Guard) -> Gate:
    """Return how a view's request is authenticated: the project's verifier and `guard`
    with its resource, public URL and DPoP options; what the request carried."""
    # That guard, made once per `Project` (which changes only with the settings).
    made: list[tuple[Project, Guard]] = []

    def gating(args: tuple[Any, ...]) -> tuple[Verifier, Guard, Carried]:
        project = get_project()
        if not made or made[0][0] is not project:
            resource, public_url = project.resource, project.public_url
            dpop = dpop_options(project.verifier)
            made[:] = [
                (project, replace(guard, dpop=dpop, resource=resource, public_url=public_url))
            ]
        checked = made[0][1]
        return project.verifier, checked, carried(args[0], checked)

    return gating


def carried(request: HttpRequest, guard: Guard) -> Carried:
    """Return what `request` carried (WSGI and ASGI requests alike).

    Its URL's path is the request URI as sent (WSGI `RAW_URI` / `REQUEST_URI`, ASGI
    `raw_path`); only without either the decoded path, quoted again. Its host is
    `get_host()`'s, so a host outside `ALLOWED_HOSTS` is refused as Django refuses it.
    """

    def where() -> tuple[str, str, str]:
        scope = getattr(request, "scope", None)
        raw = scope.get("raw_path") if scope is not None else None
        path = raw.decode("latin-1") if raw else quote(request.path)
        return request.scheme or "http", request.get_host(), path

    return wsgi_carried(guard, request.META, where)


def _metadata(request: HttpRequest) -> HttpResponse | None:
    """Return the RFC 9728 document when `request` asks for it; else None."""
    resource = get_project().resource
    if resource is None or request.method != "GET" or request.path != resource.metadata_path:
        return None
    return JsonResponse(resource.metadata())


def _admit(args: tuple[Any, ...], outcome: AccessToken | Refusal | None) -> HttpResponse | None:
    """Return the answer to a refused request; else keep its token and return None."""
    if isinstance(outcome, Refusal):
        answer = outcome.response
        return JsonResponse(answer.body, status=answer.status_code, headers=answer.headers)
    args[0].access_token = outcome
    return None


class AccessTokenMiddleware:
    """Set `request.access_token`; refuse a request whose token is present but invalid."""

    sync_capable = async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        self._guarded = guarded_view(
            get_response, gate(Guard(optional=True)), _admit, asynchronous=self._async
        )
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        # The RFC 9728 document, before authentication; under ASGI, as an awaitable.
        document = _metadata(request)
        if document is None:
            return self._guarded(request)
        return _ready(document) if self._async else document


async def _ready(response: HttpResponse) -> HttpResponse:
    return response


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
        return guarded_view(view, gate(base), _admit, asynchronous=iscoroutinefunction(view))

    return decorate


def __getattr__(name: str) -> Any:
    """Import the DRF classes on first use, so that plain Django needs no DRF."""
    if name in ("BearerAuthentication", "HasScopes"):
        from . import _drf

        return getattr(_drf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
