"""Fetching a small JSON document from an authorization server: the rules, in one place.

JWK Sets, discovery documents and introspection answers are attacker-reachable input (a
compromised DNS entry, a hostile proxy, a misconfigured CDN, a redirect), so every fetch
follows the same strict rules:

- only `https://` URLs, except loopback hosts for development and tests;
- redirects are followed by hand, only for GET and only within the same origin (scheme,
  host and port, RFC 6454): an open redirect, or another service on the same host, must
  not hand us someone else's keys;
- the answer must not be compressed: `Accept-Encoding: identity` is asked for, any other
  `Content-Encoding` is refused, and the raw bytes are read, so nothing is ever inflated
  (a few kilobytes of stacked gzip inflate to gigabytes);
- the body is cut off at `max_response_bytes`, whatever `Content-Length` says;
- one deadline covers the whole fetch, redirects included; a sync caller is held no
  longer than that (see `flight.py`), and a worker blocked on a trickling server is cut
  loose through its `CancelScope`;
- anything but 200 with a JSON object is a failure, a `KeySourceUnavailable` with a fixed
  description: the response never reaches an error message, and the log names the URL
  and the reason only.

`fetch_json()` is a flow (`flow.py`): written once, driven by threads and event loops.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import httpx

from .._json import loads_strict
from ..errors import KeySourceUnavailable
from .flow import CANCEL_SCOPE, Call, Flow
from .policy import max_age_from

__all__ = ["HTTP", "JSONResponse", "check_url", "fetch_json", "same_origin"]

_log = logging.getLogger("accesstoken")

_MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_JSON: Final = "application/json"
_IDENTITY: Final = frozenset(("", "identity"))
UNREACHABLE: Final = "The authorization server could not be reached."
TIMED_OUT: Final = "The authorization server did not answer in time."
_BAD_STATUS: Final = "The authorization server answered with an error status."
_TOO_LARGE: Final = "The authorization server's response was too large."
_NOT_JSON: Final = "The authorization server's response was not a JSON object."
_BAD_REDIRECT: Final = "The authorization server redirected to another origin."
_COMPRESSED: Final = "The authorization server's response was compressed."


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


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Return whether two URLs share scheme, host and port (RFC 6454 §4; default ports equal)."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


@dataclass(frozen=True, slots=True)
class JSONResponse:
    """A JSON object fetched from `url`, and the freshness lifetime its headers gave it."""

    url: str
    document: dict[str, Any]
    max_age: float | None


def fail(url: str, reason: str, description: str, cause: BaseException | None = None) -> NoReturn:
    """Log why fetching `url` failed (URL and reason only) and raise `KeySourceUnavailable`."""
    _log.warning("fetching %s failed: %s", url, reason)
    raise KeySourceUnavailable(description) from cause


def _redirect_target(response: httpx.Response, method: str, hops: int) -> str | None:
    """Return where a redirect leads, None if `response` is no redirect; raise if not allowed."""
    if response.status_code not in _REDIRECTS or "location" not in response.headers:
        return None
    source = response.request.url
    if method != "GET" or hops >= _MAX_REDIRECTS:
        fail(str(source), f"redirect not followed (status {response.status_code})", _BAD_STATUS)
    try:
        target = source.join(response.headers["location"])
    except httpx.InvalidURL as exc:
        fail(str(source), "invalid redirect location", _BAD_REDIRECT, exc)
    if not same_origin(source, target):
        fail(str(source), "redirect to another origin refused", _BAD_REDIRECT)
    return str(target)


def _check_head(response: httpx.Response, max_bytes: int) -> None:
    url = str(response.request.url)
    if response.status_code != 200:
        fail(url, f"status {response.status_code}", _BAD_STATUS)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in _IDENTITY:
        fail(url, "compressed response refused (Content-Encoding)", _COMPRESSED)
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        fail(url, "Content-Length over max_response_bytes", _TOO_LARGE)


def _result(response: httpx.Response, body: bytes) -> JSONResponse:
    document = loads_strict(body)
    if document is None:
        fail(str(response.request.url), "body is not a JSON object", _NOT_JSON)
    max_age = max_age_from(response.headers.get("cache-control"), response.headers.get("age"))
    return JSONResponse(str(response.request.url), document, max_age)


def fetch_json(
    http: HTTP,
    url: str,
    *,
    deadline: float | None = None,
    method: str = "GET",
    data: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    accept: str = _JSON,
) -> Flow[JSONResponse]:
    """Return the JSON object at `url`, by `deadline` (`time.monotonic()`; else `http.timeout`).

    Raises:
        KeySourceUnavailable: network error, timeout, a status other than 200, a compressed
            body, a body over `max_response_bytes` or not a JSON object, a refused redirect.
    """
    if deadline is None:
        deadline = time.monotonic() + http.timeout
    headers = {"Accept": accept, "Accept-Encoding": "identity"}
    hops = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                fail(url, "timed out", TIMED_OUT)
            options = {"headers": headers, "data": data, "timeout": httpx.Timeout(remaining)}
            response = yield Call(http.send, http.send_async, (method, url, options, auth))
            try:
                target = _redirect_target(response, method, hops)
                if target is None:
                    _check_head(response, http.max_response_bytes)
                    # Raw bytes: whatever the headers claim, nothing is decompressed.
                    chunks = yield Call(_raw, _raw_async, (response,))
                    body = bytearray()
                    while (chunk := (yield Call(next, anext, (chunks, None)))) is not None:
                        body += chunk
                        if len(body) > http.max_response_bytes:
                            fail(url, "body over max_response_bytes", _TOO_LARGE)
                        # A per-read timeout never fires on a server trickling byte by byte.
                        if time.monotonic() > deadline:
                            fail(url, "timed out reading the body", TIMED_OUT)
                    return _result(response, bytes(body))
            finally:
                yield Call(httpx.Response.close, httpx.Response.aclose, (response,))
            url, hops = target, hops + 1
    except httpx.HTTPError as exc:
        fail(url, type(exc).__name__, UNREACHABLE, exc)


def _raw(response: httpx.Response) -> Any:
    return response.iter_raw()


async def _raw_async(response: httpx.Response) -> Any:
    return response.aiter_raw()


def _register_socket(event: str, info: Mapping[str, Any]) -> None:
    """httpcore trace hook: let the flight's `CancelScope` shut a new connection down."""
    scope = CANCEL_SCOPE.get()
    if scope is None or not event.endswith(".complete") or "connect_tcp" not in event:
        return
    stream = info.get("return_value")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        scope.on_cancel(lambda: sock.shutdown(socket.SHUT_RDWR))


class HTTP:
    """The HTTP side of a remote source: its clients, `timeout` and `max_response_bytes`.

    A client passed in is used as given (its proxies, certificates, transport). Otherwise one
    client of each kind is created on first use and reused; it keeps no idle connections,
    because fetches are minutes apart and an async client may be used from more than one
    event loop, where a pooled connection of another loop would be unusable. The options
    are checked by `settings.http_settings()`.
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
        self._client = http_client
        self._async_client = async_http_client
        self._lock = threading.Lock()
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes

    def client(self) -> httpx.Client:
        """Return the sync client: the one given, or our own."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
            return self._client

    def async_client(self) -> httpx.AsyncClient:
        """Return the async client: the one given, or our own."""
        with self._lock:
            if self._async_client is None:
                limits = httpx.Limits(max_keepalive_connections=0)
                self._async_client = httpx.AsyncClient(limits=limits)
            return self._async_client

    def send(
        self, method: str, url: str, options: dict[str, Any], auth: httpx.Auth | None
    ) -> httpx.Response:
        """Send a request and return its response with the body still unread."""
        client = self.client()
        request = client.build_request(method, url, **options)
        request.extensions["trace"] = _register_socket
        return client.send(request, auth=auth, stream=True, follow_redirects=False)

    async def send_async(
        self, method: str, url: str, options: dict[str, Any], auth: httpx.Auth | None
    ) -> httpx.Response:
        """Send a request without blocking the event loop (a cancelled task closes it)."""
        client = self.async_client()
        request = client.build_request(method, url, **options)
        return await client.send(request, auth=auth, stream=True, follow_redirects=False)
