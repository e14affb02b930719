"""`OIDCDiscovery`: find an issuer's JWK Set through its metadata document.

The document is read from OpenID Connect Discovery 1.0 §4's
`{issuer}/.well-known/openid-configuration`, falling back to RFC 8414's
`oauth-authorization-server` document. Its `issuer` must equal the configured issuer
exactly (OIDC Discovery §4.3, RFC 8414 §3.3): otherwise a server could hand out metadata,
and so keys, for an issuer it does not speak for.

`fetch_metadata()` and `fetch_metadata_async()` are the reusable part, for any client that
needs another endpoint of the document (`introspection_endpoint`, RFC 8414 §2).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import httpx

from ..errors import KeySourceUnavailable
from .base import KeySet, KeySource
from .cache import RefreshPolicy
from .http import Fetcher, JSONResponse, check_url
from .jwks import JWKSEndpoint, RemoteDocument

__all__ = ["OIDCDiscovery", "discovery_urls", "fetch_metadata", "fetch_metadata_async"]

_OIDC: Final = "/.well-known/openid-configuration"
_OAUTH: Final = "/.well-known/oauth-authorization-server"
_WRONG_ISSUER: Final = "The authorization server's metadata names another issuer."
_BAD_METADATA: Final = "The authorization server's metadata is unusable."


def check_issuer(issuer: str) -> str:
    """Return `issuer` if it can be discovered: an https (or loopback http) URL, no query.

    Raises:
        TypeError: `issuer` is not a string.
        ValueError: not such a URL, or it has a query or fragment (RFC 8414 §2).
    """
    check_url(issuer)
    parsed = httpx.URL(issuer)
    if parsed.query or parsed.fragment or "?" in issuer or "#" in issuer:
        raise ValueError("an issuer has no query or fragment (RFC 8414 §2)")
    return issuer


def discovery_urls(issuer: str) -> list[str]:
    """Return the metadata URLs of `issuer`, in the order they are tried.

    For `https://idp.example/tenant` these are the OpenID Connect form
    `https://idp.example/tenant/.well-known/openid-configuration`, RFC 8414 §3.1's form
    `https://idp.example/.well-known/oauth-authorization-server/tenant` (the well-known
    part goes between host and path), and the appended form
    `https://idp.example/tenant/.well-known/oauth-authorization-server` that RFC 8414 §5
    notes some deployments use. Without a path the last two are the same URL.
    """
    base = issuer.rstrip("/")
    path = httpx.URL(issuer).raw_path.decode("ascii").rstrip("/")  # as written, %-escapes kept
    origin = base[: len(base) - len(path)] if path else base
    urls = [base + _OIDC, origin + _OAUTH + path, base + _OAUTH]
    return list(dict.fromkeys(urls))


def _checked(response: JSONResponse, issuer: str) -> Mapping[str, Any]:
    if response.document.get("issuer") != issuer:
        raise KeySourceUnavailable(_WRONG_ISSUER)
    return MappingProxyType(response.document)


def _telling(first: KeySourceUnavailable | None, new: KeySourceUnavailable) -> KeySourceUnavailable:
    """Return the error to report: the first one, unless a later document named another issuer."""
    if first is None or new.description == _WRONG_ISSUER:
        return new
    return first


def fetch_metadata(fetcher: Fetcher, issuer: str) -> Mapping[str, Any]:
    """Return the metadata document of `issuer`, read-only, within `fetcher.timeout` in all.

    Raises:
        KeySourceUnavailable: no candidate URL gave a document whose `issuer` is `issuer`.
    """
    deadline = time.monotonic() + fetcher.timeout
    error: KeySourceUnavailable | None = None
    for url in discovery_urls(issuer):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return _checked(fetcher.get(url, timeout=remaining), issuer)
        except KeySourceUnavailable as exc:
            error = _telling(error, exc)
    raise error or KeySourceUnavailable()


async def fetch_metadata_async(fetcher: Fetcher, issuer: str) -> Mapping[str, Any]:
    """Return the metadata document of `issuer` without blocking the event loop.

    Raises:
        KeySourceUnavailable: as `fetch_metadata()`.
    """
    deadline = time.monotonic() + fetcher.timeout
    error: KeySourceUnavailable | None = None
    for url in discovery_urls(issuer):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return _checked(await fetcher.get_async(url, timeout=remaining), issuer)
        except KeySourceUnavailable as exc:
            error = _telling(error, exc)
    raise error or KeySourceUnavailable()


def _with_jwks_uri(metadata: Mapping[str, Any]) -> tuple[Mapping[str, Any], None]:
    jwks_uri = metadata.get("jwks_uri")
    try:
        check_url(jwks_uri)  # type: ignore[arg-type]  # TypeError covers a non-string
    except (TypeError, ValueError) as exc:
        raise KeySourceUnavailable(_BAD_METADATA) from exc
    return metadata, None


class OIDCDiscovery(KeySource):
    """The keys of an issuer, found through its discovery document's `jwks_uri`.

    The document is read on first use; while that fails it is tried again at most once per
    `min_refresh_interval`. Once read it is kept: an issuer's `jwks_uri` is stable, and key
    rotation is handled by the JWK Set's own refresh, which uses the same options.

    Args:
        issuer: the issuer URL, exactly as tokens carry it in `iss`.
        http_client, async_http_client, timeout, cache_ttl, min_refresh_interval,
        max_stale, max_response_bytes, clock: as for `JWKSEndpoint`; they apply to the
            discovery document and to the JWK Set alike.

    Raises:
        ValueError: an issuer that is not https (or loopback http), or an option out of range.
        TypeError: an option of the wrong type.
    """

    def __init__(
        self,
        issuer: str,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        cache_ttl: float = 300,
        min_refresh_interval: float = 30,
        max_stale: float = 86_400,
        max_response_bytes: int = 1_048_576,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        self._issuer = check_issuer(issuer)
        self._fetcher = Fetcher(
            http_client=http_client,
            async_http_client=async_http_client,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
        )
        self._policy = RefreshPolicy(cache_ttl, min_refresh_interval, max_stale)
        self._clock = clock
        self._document: RemoteDocument[Mapping[str, Any]] = RemoteDocument(
            self._fetch,
            self._fetch_async,
            policy=RefreshPolicy(math.inf, min_refresh_interval, 0),
            timeout=self._fetcher.timeout,
            clock=clock or time.monotonic,
        )
        self._lock = threading.Lock()
        self._jwks: JWKSEndpoint | None = None

    def _fetch(self) -> tuple[Mapping[str, Any], None]:
        return _with_jwks_uri(fetch_metadata(self._fetcher, self._issuer))

    async def _fetch_async(self) -> tuple[Mapping[str, Any], None]:
        return _with_jwks_uri(await fetch_metadata_async(self._fetcher, self._issuer))

    @property
    def issuer(self) -> str:
        """The issuer whose keys these are."""
        return self._issuer

    def metadata(self) -> Mapping[str, Any]:
        """Return the discovery document (read-only), reading it first if need be.

        Raises:
            KeySourceUnavailable: the document could not be read, or names another issuer.
        """
        return _required(self._document.get())

    async def metadata_async(self) -> Mapping[str, Any]:
        """Return the discovery document without blocking the event loop; see `metadata()`."""
        return _required(await self._document.get_async())

    def _endpoint(self, metadata: Mapping[str, Any]) -> JWKSEndpoint:
        with self._lock:
            if self._jwks is None:
                self._jwks = JWKSEndpoint._shared(
                    metadata["jwks_uri"], self._fetcher, self._policy, self._clock
                )
            return self._jwks

    def _jwks_endpoint(self) -> JWKSEndpoint:
        return self._jwks or self._endpoint(self.metadata())

    async def _jwks_endpoint_async(self) -> JWKSEndpoint:
        return self._jwks or self._endpoint(await self.metadata_async())

    def key_set(self) -> KeySet:
        """Return the issuer's current key set; see `JWKSEndpoint.key_set()`.

        Raises:
            KeySourceUnavailable: no discovery document or no usable key set.
        """
        return self._jwks_endpoint().key_set()

    def key_set_nowait(self) -> KeySet | None:
        """Return the cached key set while it is fresh, else None (then `key_set()` fetches)."""
        jwks = self._jwks
        return jwks.key_set_nowait() if jwks is not None else None

    def refresh(self) -> KeySet | None:
        """Return a freshly fetched key set, or None; see `JWKSEndpoint.refresh()`."""
        return self._jwks_endpoint().refresh()

    async def key_set_async(self) -> KeySet:
        """Return the issuer's current key set without blocking the event loop."""
        return await (await self._jwks_endpoint_async()).key_set_async()

    async def refresh_async(self) -> KeySet | None:
        """Return a freshly fetched key set without blocking the event loop, or None."""
        return await (await self._jwks_endpoint_async()).refresh_async()

    def __repr__(self) -> str:
        return f"OIDCDiscovery({self._issuer!r})"


def _required(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if metadata is None:  # only a forced refresh declines; kept as a guard for type checkers
        raise KeySourceUnavailable()
    return metadata
