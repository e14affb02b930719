"""Fetching small JSON documents from an authorization server: JWK Sets, discovery, introspection.

Everything fetched here is attacker-reachable input (a compromised DNS entry, a hostile
proxy, a misconfigured CDN), so the rules are strict and live in one place:

- only `https://` URLs, except loopback hosts for development and tests;
- redirects are followed by hand, only for GET, only to the same host, never from
  https to http (an open redirect on the IdP must not hand us someone else's keys);
- the body is streamed and cut off at `max_response_bytes`, whatever Content-Length says;
- anything but 200 with a JSON object is a failure;
- every failure is a `KeySourceUnavailable` with a fixed description: the response
  never reaches an error message, and the log names the URL and the reason only.

The decisions are plain functions; `fetch_json()` and `fetch_json_async()` only send and
read, like httpx's own `Client`/`AsyncClient` around `BaseClient`.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import httpx

from .._json import loads_strict
from ..errors import KeySourceUnavailable
from .cache import max_age_from

__all__ = ["Fetcher", "JSONResponse", "check_url", "fetch_json", "fetch_json_async"]

_log = logging.getLogger("accesstoken")

_MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_JSON: Final = "application/json"
_UNREACHABLE: Final = "The authorization server could not be reached."
_BAD_STATUS: Final = "The authorization server answered with an error status."
_TOO_LARGE: Final = "The authorization server's response was too large."
_NOT_JSON: Final = "The authorization server's response was not a JSON object."
_BAD_REDIRECT: Final = "The authorization server redirected to another host."


def check_url(url: str) -> str:
    """Return `url` if it is `https://`, or `http://` on a loopback host; else raise.

    Loopback means `localhost`, `127.0.0.0/8` or `::1`: plain HTTP never leaves the machine
    there, which is what development servers and tests need (RFC 8252 §8.3 reasons alike).

    Raises:
        TypeError: `url` is not a string.
        ValueError: not an absolute http(s) URL, or http to a host that is not loopback.
    """
    if not isinstance(url, str):
        raise TypeError("the URL must be a string")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError("not a valid URL") from exc
    if not parsed.host:
        raise ValueError("the URL must be absolute")
    if parsed.scheme == "https" or (parsed.scheme == "http" and _is_loopback(parsed.host)):
        return url
    raise ValueError("the URL must use https:// (plain http:// only for loopback hosts)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class JSONResponse:
    """A JSON object fetched from `url`, and the freshness lifetime its headers gave it."""

    url: str
    document: dict[str, Any]
    max_age: float | None


def _fail(url: str, reason: str, description: str, cause: BaseException | None = None) -> NoReturn:
    _log.warning("fetching %s failed: %s", url, reason)
    raise KeySourceUnavailable(description) from cause


def _redirect_target(response: httpx.Response, method: str, hops: int) -> str | None:
    """Return where a redirect leads, None if `response` is no redirect; raise if not allowed."""
    if response.status_code not in _REDIRECTS or "location" not in response.headers:
        return None
    url = str(response.request.url)
    if method != "GET" or hops >= _MAX_REDIRECTS:
        _fail(url, f"redirect not followed (status {response.status_code})", _BAD_STATUS)
    try:
        target = response.request.url.join(response.headers["location"])
    except httpx.InvalidURL as exc:
        _fail(url, "invalid redirect location", _BAD_REDIRECT, exc)
    source = response.request.url
    downgrade = source.scheme == "https" and target.scheme != "https"
    if target.host != source.host or downgrade or target.scheme not in ("http", "https"):
        _fail(url, "redirect to another host or scheme refused", _BAD_REDIRECT)
    return str(target)


def _check_head(response: httpx.Response, max_bytes: int) -> None:
    url = str(response.request.url)
    if response.status_code != 200:
        _fail(url, f"status {response.status_code}", _BAD_STATUS)
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        _fail(url, "Content-Length over max_response_bytes", _TOO_LARGE)


def _result(response: httpx.Response, body: bytes) -> JSONResponse:
    document = loads_strict(body)
    if document is None:
        _fail(str(response.request.url), "body is not a JSON object", _NOT_JSON)
    max_age = max_age_from(response.headers.get("cache-control"), response.headers.get("age"))
    return JSONResponse(str(response.request.url), document, max_age)


class _Body:
    """Collects a body up to `max_bytes` and up to a deadline, however slowly it arrives."""

    def __init__(self, response: httpx.Response, max_bytes: int, deadline: float) -> None:
        self._response = response
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        self._chunks.append(chunk)
        url = str(self._response.request.url)
        if self._size > self._max_bytes:
            _fail(url, "body over max_response_bytes", _TOO_LARGE)
        # A per-read timeout never fires on a server trickling one byte at a time.
        if time.monotonic() > self._deadline:
            _fail(url, "timed out reading the body", _UNREACHABLE)

    def bytes(self) -> bytes:
        return b"".join(self._chunks)


def _request_options(deadline: float, accept: str) -> dict[str, Any]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpx.TimeoutException("deadline passed before the request")
    # Compressed bodies are refused up front: a small gzip body can inflate far beyond the
    # cap in one chunk, and these documents are small anyway.
    headers = {"Accept": accept, "Accept-Encoding": "identity"}
    return {"headers": headers, "timeout": httpx.Timeout(remaining), "follow_redirects": False}


def fetch_json(
    client: httpx.Client,
    url: str,
    *,
    timeout: float,
    max_response_bytes: int,
    method: str = "GET",
    data: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    accept: str = _JSON,
) -> JSONResponse:
    """Return the JSON object at `url`, within `timeout` seconds in all.

    Raises:
        KeySourceUnavailable: network error, timeout, a status other than 200, a body over
            `max_response_bytes` or not a JSON object, a refused redirect.
    """
    deadline = time.monotonic() + timeout
    hops = 0
    try:
        while True:
            options = _request_options(deadline, accept)
            with client.stream(method, url, data=data, auth=auth, **options) as response:
                target = _redirect_target(response, method, hops)
                if target is None:
                    _check_head(response, max_response_bytes)
                    body = _Body(response, max_response_bytes, deadline)
                    for chunk in response.iter_bytes():
                        body.add(chunk)
                    return _result(response, body.bytes())
            url, hops = target, hops + 1
    except httpx.HTTPError as exc:
        _fail(url, type(exc).__name__, _UNREACHABLE, exc)


async def fetch_json_async(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    max_response_bytes: int,
    method: str = "GET",
    data: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    accept: str = _JSON,
) -> JSONResponse:
    """Return the JSON object at `url` without blocking the event loop; see `fetch_json()`.

    Raises:
        KeySourceUnavailable: as `fetch_json()`.
    """
    deadline = time.monotonic() + timeout
    hops = 0
    try:
        while True:
            options = _request_options(deadline, accept)
            async with client.stream(method, url, data=data, auth=auth, **options) as response:
                target = _redirect_target(response, method, hops)
                if target is None:
                    _check_head(response, max_response_bytes)
                    body = _Body(response, max_response_bytes, deadline)
                    async for chunk in response.aiter_bytes():
                        body.add(chunk)
                    return _result(response, body.bytes())
            url, hops = target, hops + 1
    except httpx.HTTPError as exc:
        _fail(url, type(exc).__name__, _UNREACHABLE, exc)


class Fetcher:
    """HTTP settings shared by a key source: the clients, `timeout` and `max_response_bytes`.

    A client passed in is used as given (its proxies, certificates, transport). Otherwise one
    client of each kind is created on first use and reused; it keeps no idle connections,
    because fetches are minutes apart and an async client may be used from more than one
    event loop, where a pooled connection of another loop would be unusable.

    Raises:
        TypeError: a client of the wrong kind, or a non-numeric option.
        ValueError: `timeout` not a positive finite number, `max_response_bytes` not positive.
    """

    __slots__ = ("_async_client", "_client", "_lock", "max_response_bytes", "timeout")

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        max_response_bytes: int = 1_048_576,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError("http_client must be an httpx.Client")
        if async_http_client is not None and not isinstance(async_http_client, httpx.AsyncClient):
            raise TypeError("async_http_client must be an httpx.AsyncClient")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise TypeError("timeout must be a number of seconds")
        if not (0 < timeout < math.inf):
            raise ValueError("timeout must be a positive, finite number of seconds")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
            raise TypeError("max_response_bytes must be an int")
        if max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be positive")
        self._client = http_client
        self._async_client = async_http_client
        self._lock = threading.Lock()
        self.timeout = float(timeout)
        self.max_response_bytes = max_response_bytes

    def _own_limits(self) -> httpx.Limits:
        return httpx.Limits(max_keepalive_connections=0)

    def client(self) -> httpx.Client:
        """Return the sync client: the one given, or our own."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(limits=self._own_limits())
            return self._client

    def async_client(self) -> httpx.AsyncClient:
        """Return the async client: the one given, or our own."""
        with self._lock:
            if self._async_client is None:
                self._async_client = httpx.AsyncClient(limits=self._own_limits())
            return self._async_client

    def get(self, url: str, *, accept: str = _JSON, timeout: float | None = None) -> JSONResponse:
        """Return the JSON object at `url` (see `fetch_json()`)."""
        return fetch_json(
            self.client(),
            url,
            timeout=self.timeout if timeout is None else timeout,
            max_response_bytes=self.max_response_bytes,
            accept=accept,
        )

    async def get_async(
        self, url: str, *, accept: str = _JSON, timeout: float | None = None
    ) -> JSONResponse:
        """Return the JSON object at `url` without blocking the event loop."""
        return await fetch_json_async(
            self.async_client(),
            url,
            timeout=self.timeout if timeout is None else timeout,
            max_response_bytes=self.max_response_bytes,
            accept=accept,
        )
