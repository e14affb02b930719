"""Turn an error into an HTTP answer, in one place, so that every adapter answers alike.

| error              | status | body                                   | header              |
|--------------------|--------|----------------------------------------|---------------------|
| `MissingToken`     | 401    | `{"error_description"}` only           | `WWW-Authenticate`  |
| other `TokenError` | 4xx    | `{"error", "error_description"}`       | `WWW-Authenticate`  |
| `KeySourceError`   | 503    | `{"error": "temporarily_unavailable"}` | `Retry-After`       |

RFC 6750 §3.1: a request without any authentication gets no error code, so `MissingToken`'s
body carries only a description for the humans reading it. A 503 never carries
`WWW-Authenticate`: the token was not at fault, and a client must not drop it or log out.
Everything sent comes from the error's class and its fixed `description`; nothing is
taken from the request or from a foreign exception's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .errors import AccessTokenError, KeySourceError, TokenError

__all__ = ["RETRY_AFTER_SECONDS", "ErrorResponse", "error_response"]

#: Seconds a client is asked to wait after a 503: about one key refresh cooldown.
RETRY_AFTER_SECONDS: Final = 30


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """What an adapter sends for an error: status, JSON body and headers."""

    status_code: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def error_response(exc: AccessTokenError, realm: str | None = None) -> ErrorResponse:
    """Return the answer for `exc`: its status, an RFC 6750 JSON body and headers.

    Args:
        exc: a `TokenError` (400/401/403) or a `KeySourceError` (503).
        realm: the `realm` attribute of `WWW-Authenticate`, if any.
    """
    body = {"error_description": exc.description}
    if exc.error is not None:
        body = {"error": exc.error, **body}
    headers: dict[str, str] = {}
    if isinstance(exc, TokenError):
        headers["WWW-Authenticate"] = exc.www_authenticate(realm)
    elif isinstance(exc, KeySourceError):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return ErrorResponse(exc.status_code, body, headers)
