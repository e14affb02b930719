"""`FlaskAuth`: a decorator that verifies the request's bearer token in Flask views.

```python
auth = FlaskAuth(verifier)          # or FlaskAuth(), then auth.init_app(app, verifier)

@app.get("/orders")
@auth.require("orders:read")
def orders():
    return {"sub": current_token.subject}
```

A sync view is checked with `verify()`, an `async def` view with `verify_async()`. Refusals
are JSON `{"error", "error_description"}` with the `WWW-Authenticate` (or `Retry-After`)
header, rendered by the decorator itself, so they work with or without `init_app`: so is an
`AccessTokenError` the view raises (`current_token.require_roles("admin")`).

With a verifier that has `dpop=`, the `DPoP` scheme is accepted and the verifier is handed
the method, the URL (the raw request URI, behind `public_url` when given), the `DPoP`
header and the client certificate of WSGI's `SSL_CLIENT_CERT`. With `resource=`,
`init_app` serves the RFC 9728 document and every 401 and 403 challenge names it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar, cast
from urllib.parse import quote

from ._authenticate import Carried, Guard, Refusal, dpop_options
from ._resource import ProtectedResource
from ._token import AccessToken
from ._verifier import Verifier
from ._wsgi import guarded_view, wsgi_carried
from .errors import AccessTokenError

try:
    from flask import Flask, Response, current_app, g, jsonify, make_response, request
    from werkzeug.local import LocalProxy
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("accesstoken.flask needs Flask: pip install 'accesstoken[flask]'") from exc

__all__ = ["FlaskAuth", "current_token", "get_current_token"]

_View = TypeVar("_View", bound=Callable[..., Any])
_EXTENSION = "accesstoken"
_G_NAME = "_accesstoken_token"
_UNSET = object()
_METADATA_ENDPOINT = "accesstoken_resource_metadata"


def get_current_token() -> AccessToken | None:
    """Return the token verified for this request; None if an optional view got none.

    Raises:
        RuntimeError: the view is not decorated with `@auth.require()`.
    """
    token = g.get(_G_NAME, _UNSET)
    if token is _UNSET:
        raise RuntimeError("no access token was checked: decorate the view with @auth.require()")
    return cast("AccessToken | None", token)


#: The request's verified `AccessToken`, as a proxy (like `flask.g`). In an optional view
#: without a token it stands for None; test that with `get_current_token() is None`.
current_token: AccessToken = cast(AccessToken, LocalProxy(get_current_token))


class FlaskAuth:
    """Guards Flask views with `@auth.require(*scopes)`.

    Args:
        verifier: the verifier for every app; or None, and give one per app to `init_app()`.
        realm: the `realm` of the `WWW-Authenticate` challenge, if any.
        public_url: the origin clients address ("https://api.example.com") when a proxy
            stands in front: a DPoP proof's `htu` is checked against it, not the `Host`.
        resource: the RFC 9728 metadata, served by `init_app` at its `metadata_path` and
            named in every 401 and 403 challenge.
    """

    def __init__(
        self,
        verifier: Verifier | None = None,
        *,
        realm: str | None = None,
        public_url: str | None = None,
        resource: ProtectedResource | None = None,
    ) -> None:
        self.verifier = verifier
        self.realm = realm
        self.public_url = public_url
        self.resource = resource
        self._override: Verifier | None = None

    @contextmanager
    def use(self, verifier: Verifier) -> Iterator[None]:
        """Check tokens with `verifier` inside the block, in every app, then restore.

        For tests: it wins over the verifiers given to `FlaskAuth()` and `init_app()`, and
        every view still demands its scopes and roles.
        """
        previous, self._override = self._override, verifier
        try:
            yield
        finally:
            self._override = previous

    def init_app(self, app: Flask, verifier: Verifier | None = None) -> None:
        """Register `app`: its verifier, and a handler for `AccessTokenError`s of its views.

        Such an error (say, of `current_token.require_roles()`) is rendered as a refusal.

        Raises:
            ValueError: no verifier here and none given to `FlaskAuth()`.
        """
        verifier = verifier if verifier is not None else self.verifier
        if verifier is None:
            raise ValueError("FlaskAuth needs a verifier: FlaskAuth(verifier) or init_app(app, v)")
        app.extensions.setdefault(_EXTENSION, {})[self] = verifier
        guard = Guard(realm=self.realm, resource=self.resource)
        app.register_error_handler(AccessTokenError, lambda exc: _render(guard.refuse(exc)))
        resource = self.resource
        if resource is not None and _METADATA_ENDPOINT not in app.view_functions:
            document = resource.metadata()
            app.add_url_rule(
                resource.metadata_path,
                _METADATA_ENDPOINT,
                lambda: jsonify(document),
                methods=["GET"],
            )

    def require(
        self,
        *scopes: str,
        roles: Collection[str] = (),
        optional: bool = False,
        acr_values: str | Collection[str] = (),
        max_age: float | None = None,
    ) -> Callable[[_View], _View]:
        """Return a decorator demanding a valid token with `scopes` (and `roles`).

        `@auth.require()` with no scopes accepts any valid token. With `optional=True`, a
        request without a token reaches the view with `current_token` standing for None.
        `acr_values` and `max_age` demand a strong or recent enough sign-in (RFC 9470).
        An `AccessTokenError` raised by the view is answered as a refusal of the decorator.
        """
        base = Guard(
            optional=optional,
            realm=self.realm,
            resource=self.resource,
            public_url=self.public_url,
        ).demanding(scopes, roles, acr_values=acr_values, max_age=max_age)

        def gate(_args: tuple[Any, ...]) -> tuple[Verifier, Guard, Carried]:
            verifier = self._verifier()
            dpop = dpop_options(verifier)
            guard = base if dpop is None else replace(base, dpop=dpop)
            return verifier, guard, _carried(guard)

        def decorate(view: _View) -> _View:
            asynchronous = inspect.iscoroutinefunction(view)
            return guarded_view(view, gate, _admit, asynchronous=asynchronous, on_error=_render)

        return decorate

    def _verifier(self) -> Verifier:
        if self._override is not None:
            return self._override
        verifier = current_app.extensions.get(_EXTENSION, {}).get(self, self.verifier)
        if verifier is None:
            raise RuntimeError("FlaskAuth has no verifier for this app: call init_app(app, v)")
        return cast(Verifier, verifier)


def _carried(guard: Guard) -> Carried:
    """Return what the request carried; its URL, when needed, from the request URI as sent
    (WSGI's `PATH_INFO` is decoded, so it is only a fallback)."""
    environ = request.environ

    def where() -> tuple[str, str, str]:
        decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        return request.scheme, request.host, quote(decoded.encode("latin-1"))

    return wsgi_carried(guard, environ, where)


def _admit(_args: tuple[Any, ...], outcome: AccessToken | Refusal | None) -> Response | None:
    """Return the answer to a refused request; keep an admitted one's token, return None."""
    if isinstance(outcome, Refusal):
        return _render(outcome)
    setattr(g, _G_NAME, outcome)
    return None


def _render(refusal: Refusal) -> Response:
    answer = refusal.response  # a JSON body from a dict, as a view's (body, status, headers)
    return make_response((answer.body, answer.status_code, answer.headers))
