"""`JWKSEndpoint`: a JWK Set (RFC 7517 §5) fetched over HTTPS, cached, refreshed on rotation.

`_remote/` does the work: `fetch.py` fetches under its rules, `policy.py` decides when,
and `flight.RemoteDocument` keeps one fetch in flight for threads and event loops alike.
This module only reads a JWK Set, and `RemoteKeySource` turns any flow that yields a key
set into the `KeySource` methods, sync and async, written once.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from typing_extensions import Unpack

from .._remote.fetch import HTTP, check_url, fetch_json
from .._remote.flight import RemoteDocument, observed_fetch
from .._remote.flow import Flow, run, run_async
from .._remote.settings import RemoteOptions, RemoteSettings
from ..errors import KeySourceUnavailable
from .base import KeySet, KeySource, VerificationKey

__all__ = ["JWKSEndpoint", "RemoteKeySource", "key_set_document", "parse_jwks"]

_log = logging.getLogger("accesstoken")

_JWK_SET: Final = "application/jwk-set+json, application/json"
_NOT_A_JWK_SET: Final = "The authorization server's key set is malformed."


def parse_jwks(document: dict[str, Any]) -> KeySet:
    """Return the keys of a published JWK Set, skipping the keys that cannot be used.

    A malformed key, or one of an unknown type, is skipped so that one bad entry cannot
    take the whole set down (RFC 7517 §5: "implementations SHOULD ignore JWKs within a JWK
    Set that use "kty" values that are not understood"). Symmetric (`oct`) keys are
    skipped too: a secret published at a URL is no secret, and accepting one would let
    anybody forge HS256 tokens.

    Raises:
        KeySourceUnavailable: `document` has no `keys` list.
    """
    jwks = document.get("keys")
    if not isinstance(jwks, list):
        raise KeySourceUnavailable(_NOT_A_JWK_SET)
    keys = []
    for jwk in jwks:
        try:
            keys.append(VerificationKey.from_jwk(jwk, allow_secret=False))
        except ValueError:
            continue
    if len(keys) < len(jwks):
        _log.info("skipped %d unusable keys of a JWK Set", len(jwks) - len(keys))
    return KeySet(keys)


def _fetch_key_set(http: HTTP, url: str, source: object) -> Flow[tuple[KeySet, float | None]]:
    with observed_fetch(source, url) as fetched:
        response = yield from fetch_json(http, url, accept=_JWK_SET)
        key_set = fetched(parse_jwks(response.document))
    return key_set, response.max_age


def key_set_document(url: str, settings: RemoteSettings, source: object) -> RemoteDocument[KeySet]:
    """Return the cached, refreshed JWK Set at `url` (an https or loopback URL).

    `source` is the key source whose set this is: the `source` of its events.
    """
    return RemoteDocument(
        lambda: _fetch_key_set(settings.http, url, source),
        policy=settings.policy,
        timeout=settings.http.timeout,
        clock=settings.clock,
        url=url,
        source=source,
    )


class RemoteKeySource(KeySource):
    """A key source whose set comes from `_key_set(forced)`, a flow: the methods, once."""

    def _key_set(self, forced: bool) -> Flow[KeySet | None]:
        raise NotImplementedError

    def key_set(self) -> KeySet:
        """Return the current key set, fetching it when it is missing or expired.

        Raises:
            KeySourceUnavailable: no usable key set and none could be fetched.
        """
        return _required(run(self._key_set(False)))

    def refresh(self) -> KeySet | None:
        """Return a freshly fetched key set, or None inside `min_refresh_interval`.

        Raises:
            KeySourceUnavailable: no usable key set and none could be fetched.
        """
        return run(self._key_set(True))

    async def key_set_async(self) -> KeySet:
        """Return the current key set without blocking the event loop; see `key_set()`."""
        return _required(await run_async(self._key_set(False)))

    async def refresh_async(self) -> KeySet | None:
        """Return a freshly fetched key set without blocking the event loop; see `refresh()`."""
        return await run_async(self._key_set(True))


class JWKSEndpoint(RemoteKeySource):
    """The keys published at a JWK Set URL (RFC 7517 §5), fetched lazily and kept fresh.

    The set is fetched on first use and cached for `cache_ttl` seconds, or for the response's
    `Cache-Control: max-age` clamped between `min_refresh_interval` and one day. A token
    naming an unknown `kid` makes `refresh()` fetch again, at most once per
    `min_refresh_interval`. When fetching fails, the last good set keeps serving for up to
    `max_stale` seconds past its expiry. Concurrent callers share one request.

    Args:
        url: the JWK Set URL; `https://`, or `http://` on a loopback host.
        **options: `RemoteOptions`:
            http_client: an `httpx.Client` to fetch with (proxies, certificates); else our own.
            async_http_client: an `httpx.AsyncClient` for the async path; else our own.
            timeout: seconds a fetch may take in all, redirects and a slow body included
                (5.0).
            cache_ttl: seconds a set stays fresh when the response sets no max-age (300).
            min_refresh_interval: least seconds between forced refreshes, and between
                retries after a failure (30).
            max_stale: seconds past its expiry that the last good set serves while fetches
                fail (86400).
            max_response_bytes: the largest body accepted (1048576).
            clock: monotonic seconds, for tests; defaults to `time.monotonic`.

    Raises:
        ValueError: a URL that is not https (or loopback http), or an option out of range.
        TypeError: an unknown option, or one of the wrong type.
    """

    def __init__(self, url: str, **options: Unpack[RemoteOptions]) -> None:
        self._url = check_url(url)
        self._keys = key_set_document(self._url, RemoteSettings.of(options), self)

    @property
    def url(self) -> str:
        """The JWK Set URL."""
        return self._url

    def _key_set(self, forced: bool) -> Flow[KeySet | None]:
        return self._keys.get(forced=forced)

    def key_set_nowait(self) -> KeySet | None:
        """Return the cached key set while it is fresh, else None (then `key_set()` fetches)."""
        return self._keys.fresh()

    def __repr__(self) -> str:
        return f"JWKSEndpoint({self._url!r})"


def _required(key_set: KeySet | None) -> KeySet:
    if key_set is None:  # only a forced refresh declines; kept as a guard for type checkers
        raise KeySourceUnavailable()
    return key_set
