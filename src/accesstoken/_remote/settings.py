"""The options of a remote source, listed once and checked once.

`JWKSEndpoint`, `OIDCDiscovery` and `IntrospectionVerifier` share how they talk to a
server (`HTTPOptions`), and the two key sources also how long they keep what they fetched
(`RemoteOptions`). Each constructor takes these keywords as `**options` typed by the
`TypedDict`s below, and turns them into one immutable `RemoteSettings`, which a source
hands on whole to whatever it builds (OIDC discovery's key set uses its discovery's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from typing_extensions import TypedDict

from .. import _options
from .fetch import HTTP
from .policy import RefreshPolicy

__all__ = ["HTTPOptions", "RemoteOptions", "RemoteSettings"]


class HTTPOptions(TypedDict, total=False):
    """How a remote source talks to its server."""

    http_client: httpx.Client | None  # used as given (proxies, certificates); else our own
    async_http_client: httpx.AsyncClient | None  # the same for the async path
    timeout: float  # seconds a fetch may take in all, redirects and a slow body included
    max_response_bytes: int  # the largest body accepted


class RemoteOptions(HTTPOptions, total=False):
    """How a remote key source talks to its server and how long it keeps what it fetched."""

    cache_ttl: float  # seconds a document stays fresh when the response sets no max-age
    min_refresh_interval: float  # least seconds between forced refreshes, and after failures
    max_stale: float  # seconds past expiry the last good document serves while fetches fail
    refresh_jitter: float  # up to this fraction of each lifetime is cut at random (0.1)
    clock: Callable[[], float] | None  # monotonic seconds, for tests


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    """Checked remote options: the HTTP side, the refresh policy and the clock."""

    http: HTTP
    policy: RefreshPolicy
    clock: Callable[[], float]

    @classmethod
    def of(cls, options: RemoteOptions) -> RemoteSettings:
        """Return the settings of `options`, each checked.

        Raises:
            TypeError: an unknown keyword, or an option of the wrong type.
            ValueError: an option out of range.
        """
        unknown = options.keys() - RemoteOptions.__annotations__.keys()
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        clock = options.get("clock")
        _options.check_clock(clock)
        policy = RefreshPolicy(
            options.get("cache_ttl", 300.0),
            options.get("min_refresh_interval", 30.0),
            options.get("max_stale", 86_400.0),
            options.get("refresh_jitter", 0.1),
        )
        return cls(http_settings(options), policy, clock or time.monotonic)


def http_settings(options: HTTPOptions | RemoteOptions | dict[str, Any]) -> HTTP:
    """Return the checked HTTP side of `options` (other keywords are the caller's)."""
    http_client = options.get("http_client")
    async_http_client = options.get("async_http_client")
    if http_client is not None and not isinstance(http_client, httpx.Client):
        raise TypeError("http_client must be an httpx.Client")
    if async_http_client is not None and not isinstance(async_http_client, httpx.AsyncClient):
        raise TypeError("async_http_client must be an httpx.AsyncClient")
    timeout = _options.seconds(options.get("timeout", 5.0), "timeout", allow_zero=False)
    max_bytes = _options.count(
        options.get("max_response_bytes", 1_048_576), "max_response_bytes", minimum=1
    )
    return HTTP(
        http_client=http_client,
        async_http_client=async_http_client,
        timeout=timeout,
        max_response_bytes=max_bytes,
    )
