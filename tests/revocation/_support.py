"""Tokens for the revocation tests, built as a verifier would build them."""

from __future__ import annotations

import asyncio
from typing import Any

from accesstoken import AccessToken
from tests.conftest import NOW, claims


def token(**overrides: Any) -> AccessToken:
    """Return the `AccessToken` of `tests.conftest.claims(**overrides)` (valid at `NOW`)."""
    body = claims(**overrides)
    return AccessToken(f"raw-{body.get('jti')}-{body.get('sub')}", {"alg": "RS256"}, body)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Path:
    """Calls a denylist's sync methods, or their `_async` twins each in a fresh event loop."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, deny: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.name == "sync":
            return getattr(deny, method)(*args, **kwargs)
        return asyncio.run(getattr(deny, f"{method}_async")(*args, **kwargs))
