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
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from ._authenticate import Carried, Guard, Refusal, authenticate, authenticate_async
from ._token import AccessToken
from ._verifier import Verifier
from .errors import AccessTokenError

try:
    from flask import Flask, Response, current_app, g, make_response, request
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
        app.register_error_handler(
            AccessTokenError, lambda exc: _render(Guard(realm=self.realm).refuse(exc))
        )

    def require(
        self, *scopes: str, roles: Collection[str] = (), optional: bool = False
    ) -> Callable[[_View], _View]:
        """Return a decorator demanding a valid token with `scopes` (and `roles`).

        `@auth.require()` with no scopes accepts any valid token. With `optional=True`, a
        request without a token reaches the view with `current_token` standing for None.
        An `AccessTokenError` raised by the view is answered as a refusal of the decorator.
        """
        guard = Guard(optional=optional, realm=self.realm).demanding(scopes, roles)

        def decorate(view: _View) -> _View:
            if inspect.iscoroutinefunction(view):

                @functools.wraps(view)
                async def async_view(*args: Any, **kwargs: Any) -> Any:
                    outcome = await authenticate_async(self._verifier(), guard, _carried())
                    refused = _admit(outcome)
                    if refused is not None:
                        return refused
                    try:
                        return await view(*args, **kwargs)
                    except AccessTokenError as exc:
                        return _render(guard.refuse(exc))

                return cast(_View, async_view)

            @functools.wraps(view)
            def sync_view(*args: Any, **kwargs: Any) -> Any:
                refused = _admit(authenticate(self._verifier(), guard, _carried()))
                if refused is not None:
                    return refused
                try:
                    return view(*args, **kwargs)
                except AccessTokenError as exc:
                    return _render(guard.refuse(exc))

            return cast(_View, sync_view)

        return decorate

    def _verifier(self) -> Verifier:
        if self._override is not None:
            return self._override
        verifier = current_app.extensions.get(_EXTENSION, {}).get(self, self.verifier)
        if verifier is None:
            raise RuntimeError("FlaskAuth has no verifier for this app: call init_app(app, v)")
        return cast(Verifier, verifier)


def _carried() -> Carried:
    return request.headers.getlist("Authorization"), request.query_string


def _admit(outcome: AccessToken | Refusal | None) -> Response | None:
    """Return the answer to a refused request; keep an admitted one's token, return None."""
    if isinstance(outcome, Refusal):
        return _render(outcome)
    setattr(g, _G_NAME, outcome)
    return None


def _render(refusal: Refusal) -> Response:
    answer = refusal.response  # a JSON body from a dict, as a view's (body, status, headers)
    return make_response((answer.body, answer.status_code, answer.headers))
