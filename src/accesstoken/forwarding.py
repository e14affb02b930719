"""`ForwardToken`: pass the caller's access token on to a downstream service with httpx.

```python
import httpx
from accesstoken.forwarding import ForwardToken

async with httpx.AsyncClient(base_url="http://orders.internal") as client:
    response = await client.get("/orders", auth=ForwardToken(token))
```

In the Access Token pattern a gateway or service that has verified a token forwards it
unchanged, so the next service sees who called and with which scopes, and verifies it
itself. Pass the auth per request (`auth=ForwardToken(token)`), never on a client shared
between requests of different callers. httpx drops `Authorization` on a redirect to another
origin, so the token does not follow a redirect off the host it was sent to.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from ._bearer import is_token68
from ._token import AccessToken

__all__ = ["ForwardToken"]


class ForwardToken(httpx.Auth):
    """An `httpx.Auth` that sends `Authorization: Bearer <token>` with each request.

    Args:
        token: a verified `AccessToken` (its `raw` is sent) or a raw token string.

    Raises:
        ValueError: the string is not a bearer token (RFC 6750 §2.1 syntax), which would
            otherwise produce a broken or injected header.
    """

    def __init__(self, token: AccessToken | str) -> None:
        raw = token.raw if isinstance(token, AccessToken) else token
        if not isinstance(raw, str) or not is_token68(raw):
            raise ValueError("not a bearer token: pass an AccessToken or its raw string")
        self._raw = raw

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the `Authorization` header and send the request once."""
        request.headers["Authorization"] = f"Bearer {self._raw}"
        yield request

    def __repr__(self) -> str:
        return "ForwardToken(<token>)"  # never print a token
