"""`OIDCDiscovery`: find an issuer's JWK Set through its metadata document.

The document is read from OpenID Connect Discovery 1.0 §4's
`{issuer}/.well-known/openid-configuration`, falling back to RFC 8414's
`oauth-authorization-server` document. Its `issuer` must equal the configured issuer
exactly (OIDC Discovery §4.3, RFC 8414 §3.3): otherwise a server could hand out metadata,
and so keys, for an issuer it does not speak for.

`metadata_document()` is the reusable part, for any client that needs another endpoint of
the document (`introspection_endpoint`, RFC 8414 §2).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import httpx
from typing_extensions import Unpack

from .._remote.fetch import HTTP, JSONResponse, check_url, fetch_json
from .._remote.flight import RemoteDocument, observed_fetch
from .._remote.flow import Flow, run, run_async
from .._remote.policy import RefreshPolicy
from .._remote.settings import RemoteOptions, RemoteSettings
from ..errors import KeySourceUnavailable
from .base import KeySet
from .jwks import RemoteKeySource, key_set_document

__all__ = [
    "OIDCDiscovery",
    "check_issuer",
    "discovery_urls",
    "fetch_metadata",
    "metadata_document",
    "required",
]

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


def fetch_metadata(http: HTTP, issuer: str) -> Flow[Mapping[str, Any]]:
    """Return the metadata document of `issuer`, read-only, within `http.timeout` in all.

    Raises:
        KeySourceUnavailable: no candidate URL gave a document whose `issuer` is `issuer`.
    """
    deadline = time.monotonic() + http.timeout
    error: KeySourceUnavailable | None = None
    for url in discovery_urls(issuer):
        if time.monotonic() >= deadline:
            break
        try:
            return _checked((yield from fetch_json(http, url, deadline=deadline)), issuer)
        except KeySourceUnavailable as exc:
            error = _telling(error, exc)
    raise error or KeySourceUnavailable()


def _with_endpoint(
    http: HTTP, issuer: str, field: str, source: object
) -> Flow[tuple[Mapping[str, Any], None]]:
    with observed_fetch(source, discovery_urls(issuer)[0]) as fetched:
        metadata = yield from fetch_metadata(http, issuer)
        try:
            check_url(metadata.get(field))  # type: ignore[arg-type]  # TypeError: a non-string
        except (TypeError, ValueError) as exc:
            raise KeySourceUnavailable(_BAD_METADATA) from exc
        fetched(None)
    return metadata, None


def metadata_document(
    issuer: str, field: str, settings: RemoteSettings, source: object
) -> RemoteDocument[Mapping[str, Any]]:
    """Return `issuer`'s metadata, read on first use and kept, whose `field` is a usable URL.

    While reading it fails, it is tried again at most once per `min_refresh_interval`.
    `source` is the object that needs it: the `source` of its events.
    """
    return RemoteDocument(
        lambda: _with_endpoint(settings.http, issuer, field, source),
        policy=RefreshPolicy(math.inf, settings.policy.min_refresh_interval, 0),
        timeout=settings.http.timeout,
        clock=settings.clock,
        url=discovery_urls(issuer)[0],
        source=source,
    )


class OIDCDiscovery(RemoteKeySource):
    """The keys of an issuer, found through its discovery document's `jwks_uri`.

    The document is read on first use; while that fails it is tried again at most once per
    `min_refresh_interval`. Once read it is kept: an issuer's `jwks_uri` is stable, and key
    rotation is handled by the JWK Set's own refresh, which uses the same options.

    Args:
        issuer: the issuer URL, exactly as tokens carry it in `iss`.
        **options: as for `JWKSEndpoint` (`RemoteOptions`); they apply to the discovery
            document and to the JWK Set alike.

    Raises:
        ValueError: an issuer that is not https (or loopback http), or an option out of range.
        TypeError: an unknown option, or one of the wrong type.
    """

    def __init__(self, issuer: str, **options: Unpack[RemoteOptions]) -> None:
        self._issuer = check_issuer(issuer)
        self._settings = RemoteSettings.of(options)
        self._document = metadata_document(self._issuer, "jwks_uri", self._settings, self)
        self._lock = threading.Lock()
        self._jwks: RemoteDocument[KeySet] | None = None

    @property
    def issuer(self) -> str:
        """The issuer whose keys these are."""
        return self._issuer

    def metadata(self) -> Mapping[str, Any]:
        """Return the discovery document (read-only), reading it first if need be.

        Raises:
            KeySourceUnavailable: the document could not be read, or names another issuer.
        """
        return required(run(self._document.get()))

    async def metadata_async(self) -> Mapping[str, Any]:
        """Return the discovery document without blocking the event loop; see `metadata()`."""
        return required(await run_async(self._document.get()))

    def _key_set(self, forced: bool) -> Flow[KeySet | None]:
        jwks = self._jwks
        if jwks is None:
            metadata = required((yield from self._document.get()))
            with self._lock:
                if self._jwks is None:
                    self._jwks = key_set_document(metadata["jwks_uri"], self._settings, self)
                jwks = self._jwks
        return (yield from jwks.get(forced=forced))

    def key_set_nowait(self) -> KeySet | None:
        """Return the cached key set while it is fresh, else None (then `key_set()` fetches)."""
        jwks = self._jwks
        return jwks.fresh() if jwks is not None else None

    def __repr__(self) -> str:
        return f"OIDCDiscovery({self._issuer!r})"


def required(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Return `metadata`; None only comes from a declined forced refresh (a type guard)."""
    if metadata is None:
        raise KeySourceUnavailable()
    return metadata
