"""`FlaskAuth`: a decorator that verifies the request's bearer token in Flask views.

```python
from flask import Flask
from accesstoken.flask import FlaskAuth, current_token

auth = FlaskAuth(verifier)          # or FlaskAuth(), then auth.init_app(app, verifier)

@app.get("/orders")
@auth.require("orders:read")
def orders():
    return {"sub": current_token.subject}
```

A sync view is checked with `verify()`, an `async def` view (Flask's async views) with
`verify_async()`. Refusals are JSON `{"error", "error_description"}` with the
`WWW-Authenticate` (or `Retry-After`) header, rendered by the decorator itself, so they work
with or without `init_app`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from typing import Any, TypeVar, cast

from ._bearer import query_has_token, token_from_headers
from ._responses import error_response
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError, MissingToken

try:
    from flask import Flask, Response, current_app, g, jsonify, request
    from werkzeug.local import LocalProxy
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("accesstoken.flask needs Flask: pip install 'accesstoken[flask]'") from exc

__all__ = ["FlaskAuth", "current_token", "get_current_token"]

_View = TypeVar("_View", bound=Callable[..., Any])
_EXTENSION = "accesstoken"
_G_NAME = "_accesstoken_token"
_UNSET = object()


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
    """

    def __init__(self, verifier: Verifier | None = None, *, realm: str | None = None) -> None:
        self.verifier = verifier
        self.realm = realm

    def init_app(self, app: Flask, verifier: Verifier | None = None) -> None:
        """Register with `app` (application factory): its verifier and an error handler.

        The handler renders an `AccessTokenError` raised in a view (say, by
        `current_token.require_roles("admin")`) like the decorator's own refusals.

        Raises:
            ValueError: no verifier here and none given to `FlaskAuth()`.
        """
        verifier = verifier if verifier is not None else self.verifier
        if verifier is None:
            raise ValueError("FlaskAuth needs a verifier: FlaskAuth(verifier) or init_app(app, v)")
        app.extensions.setdefault(_EXTENSION, {})[self] = verifier
        app.register_error_handler(AccessTokenError, self._render)

    def require(
        self, *scopes: str, roles: Collection[str] = (), optional: bool = False
    ) -> Callable[[_View], _View]:
        """Return a decorator demanding a valid token with `scopes` (and `roles`).

        `@auth.require()` with no scopes accepts any valid token. With `optional=True`, a
        request without a token reaches the view with `current_token` standing for None.
        """

        def decorate(view: _View) -> _View:
            if inspect.iscoroutinefunction(view):

                @functools.wraps(view)
                async def async_view(*args: Any, **kwargs: Any) -> Any:
                    try:
                        raw = self._raw_token(optional)
                        token = None
                        if raw is not None:
                            token = await self._verifier().verify_async(raw, scopes)
                            token.require_roles(*roles)
                    except AccessTokenError as exc:
                        return self._render(exc)
                    setattr(g, _G_NAME, token)
                    return await view(*args, **kwargs)

                return cast(_View, async_view)

            @functools.wraps(view)
            def sync_view(*args: Any, **kwargs: Any) -> Any:
                try:
                    raw = self._raw_token(optional)
                    token = None
                    if raw is not None:
                        token = self._verifier().verify(raw, scopes)
                        token.require_roles(*roles)
                except AccessTokenError as exc:
                    return self._render(exc)
                setattr(g, _G_NAME, token)
                return view(*args, **kwargs)

            return cast(_View, sync_view)

        return decorate

    def _raw_token(self, optional: bool) -> str | None:
        values = request.headers.getlist("Authorization")
        try:
            return token_from_headers(values, query_token=query_has_token(request.query_string))
        except MissingToken:
            if optional:
                return None
            raise

    def _verifier(self) -> Verifier:
        verifier = current_app.extensions.get(_EXTENSION, {}).get(self, self.verifier)
        if verifier is None:
            raise RuntimeError("FlaskAuth has no verifier for this app: call init_app(app, v)")
        return cast(Verifier, verifier)

    def _render(self, exc: AccessTokenError) -> Response:
        answer = error_response(exc, self.realm)
        response = jsonify(answer.body)
        response.status_code = answer.status_code
        response.headers.update(answer.headers)
        return response
