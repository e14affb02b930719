"""`IntrospectionVerifier`: opaque access tokens, checked with the issuer (RFC 7662).

An opaque token says nothing by itself: the resource server POSTs it to the authorization
server's introspection endpoint, authenticated as a client, and reads back whether it is
`active` and the claims it stands for. Those claims then go through the same rules as a
JWT's (`_pipeline.token_from_claims`: `iss`, `aud`, `exp`/`nbf`/`iat`, scopes, roles).

Asking on every request would put the identity provider on every request's path, so the
answers are cached under the SHA-256 of the token (the token itself is never a key, a log
line or an error message): a positive answer at most `cache_ttl` seconds and never past
the token's `exp`, a negative one `negative_cache_ttl` seconds. Failures are never cached.
Concurrent requests for one token share one call ("single flight"), whether they come
from threads or asyncio tasks: a `concurrent.futures.Future` per token, the first caller
fetches and every caller waits on it with a bounded wait, as `_keys/jwks.py` does.

The checks are written once, as a generator (`_flow`) that yields what it needs (an
introspection answer, a revocation answer), like `TokenVerifier`; `verify()` and
`verify_async()` only answer those needs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import math
import threading
import time
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeAlias, TypeVar
from urllib.parse import quote_plus

import httpx
from cachetools import TLRUCache

from . import _claims, _options
from ._bearer import is_token68
from ._keys.cache import RefreshPolicy
from ._keys.discovery import check_issuer, fetch_metadata, fetch_metadata_async
from ._keys.http import Fetcher, check_url, fetch_json, fetch_json_async
from ._keys.jwks import Flight, RemoteDocument
from ._pipeline import check_scopes, demanded_scopes, prepare, token_from_claims
from ._revocation import RevocationCheck
from ._token import AccessToken
from .errors import (
    KeySourceUnavailable,
    MalformedToken,
    TokenInactive,
    TokenRevoked,
)

__all__ = ["IntrospectionVerifier", "read_introspection"]

Clock: TypeAlias = Callable[[], float]
V = TypeVar("V", bound="IntrospectionVerifier")

_TIMED_OUT: Final = "The authorization server did not answer in time."
_BAD_METADATA: Final = "The authorization server's metadata is unusable."
_NO_HEADER: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Answer:
    """What the introspection endpoint said about one token.

    `claims` is None for an inactive token. `until` is when the answer leaves the cache
    (epoch seconds, by the verifier's clock); an answer whose `until` has passed is not
    cached at all.
    """

    claims: dict[str, Any] | None
    until: float


def read_introspection(
    document: Mapping[str, Any], now: float, cache_ttl: float, negative_cache_ttl: float
) -> Answer:
    """Return the answer of an introspection response (RFC 7662 §2.2) and how long to keep it.

    Only a JSON `true` in `active` means active; anything else (`false`, `"true"`, 1, no
    member at all) is inactive. A positive answer is kept `cache_ttl` seconds but never
    past the token's `exp`; a negative one `negative_cache_ttl` seconds.
    """
    if document.get("active") is not True:
        return Answer(None, now + negative_cache_ttl)
    claims = {name: value for name, value in document.items() if name != "active"}
    until = now + cache_ttl
    exp = claims.get("exp")
    if _claims.is_numeric_date(exp):
        until = min(until, float(exp))
    return Answer(claims, until)


def _expiry(_key: bytes, answer: Answer, _now: float) -> float:
    return answer.until


@dataclass(frozen=True, slots=True)
class _Introspect:
    """A request from the flow to its driver: the answer for this token."""

    text: str


@dataclass(frozen=True, slots=True)
class _CheckRevoked:
    check: RevocationCheck
    token: AccessToken


_Request: TypeAlias = "_Introspect | _CheckRevoked"
_Flow: TypeAlias = Generator[_Request, "Answer | bool", AccessToken]


def _client_auth(
    client_id: str | None, client_secret: str | None, auth: httpx.Auth | None
) -> httpx.Auth:
    """Return how the verifier authenticates to the endpoint (RFC 7662 §2.1)."""
    if auth is not None:
        if client_id is not None or client_secret is not None:
            raise ValueError("pass client_id and client_secret, or auth, not both")
        if not isinstance(auth, httpx.Auth):
            raise TypeError("auth must be an httpx.Auth")
        return auth
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        raise TypeError(
            "introspection needs client authentication: client_id and client_secret "
            "(client_secret_basic), or auth=<httpx.Auth>"
        )
    if not client_id:
        raise ValueError("client_id must not be empty")
    # RFC 6749 §2.3.1: both are form-urlencoded before they are joined with ":".
    return httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))


class IntrospectionVerifier:
    """Verifies opaque access tokens with the issuer's introspection endpoint (RFC 7662).

    Example:
        ```python
        verifier = IntrospectionVerifier(
            "https://idp.example.com/oauth2/introspect",
            client_id="orders-api", client_secret="...",
            issuer="https://idp.example.com/", audience="orders-api",
        )
        token = verifier.verify(raw, scopes=("orders:read",))
        ```

    Args:
        url: the introspection endpoint; `https://`, or `http://` on a loopback host.
        client_id: this service's client id, for client_secret_basic.
        client_secret: its secret.
        auth: any other `httpx.Auth` instead (private_key_jwt, a bearer token, or a no-op
            `httpx.Auth()` when the `http_client` authenticates with TLS).
        issuer: the expected `iss` of the answers; None skips the check on purpose.
        audience: the expected `aud`; None skips the check on purpose.
        http_client, async_http_client: httpx clients to use; else our own.
        timeout: seconds one introspection call may take in all.
        cache_ttl: seconds a positive answer is reused (never past the token's `exp`);
            0 asks on every call.
        negative_cache_ttl: seconds an inactive answer is reused; 0 does not keep them.
        max_cache_entries: the most answers kept.
        required_scopes: scopes every call demands.
        scope_claim, roles_claim, leeway, clock: as for `TokenVerifier`.
        revocation: an optional `RevocationCheck`, asked after the claims are checked.
        required_claims: claims the answer must hold (RFC 7662 makes all of them optional).
        token_type_hint: sent with every call; None sends none.
        max_token_bytes: longer tokens are refused without a call.
        max_response_bytes: the largest response accepted.

    Raises:
        TypeError, ValueError: an option of the wrong type or out of range, or no client
            authentication.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        auth: httpx.Auth | None = None,
        issuer: str | Collection[str] | None,
        audience: str | Collection[str] | None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        cache_ttl: float = 60,
        negative_cache_ttl: float = 5,
        max_cache_entries: int = 100_000,
        required_scopes: Collection[str] = (),
        scope_claim: str | None = None,
        roles_claim: str | None = "roles",
        leeway: float = 60,
        clock: Clock | None = None,
        revocation: RevocationCheck | None = None,
        required_claims: Collection[str] = (),
        token_type_hint: str | None = "access_token",  # noqa: S107 - RFC 7662 §2.1 hint
        max_token_bytes: int = 8192,
        max_response_bytes: int = 1_048_576,
    ) -> None:
        self._url: str | None = check_url(url)
        self._auth = _client_auth(client_id, client_secret, auth)
        self._fetcher = Fetcher(
            http_client=http_client,
            async_http_client=async_http_client,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
        )
        self._cache_ttl = _options.seconds(cache_ttl, "cache_ttl")
        self._negative_cache_ttl = _options.seconds(negative_cache_ttl, "negative_cache_ttl")
        max_cache_entries = _options.count(max_cache_entries, "max_cache_entries", minimum=0)
        self._max_token_bytes = _options.count(max_token_bytes, "max_token_bytes", minimum=1)
        _options.check_clock(clock)
        _options.check_revocation(revocation)
        if token_type_hint is not None and not isinstance(token_type_hint, str):
            raise TypeError("token_type_hint must be a string or None")
        self._policy = _options.claims_policy(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            required_claims=required_claims,
            scope_claim=scope_claim,
            roles_claim=roles_claim,
        )
        self._required_scopes = (
            _options.names(required_scopes, "required_scopes") if required_scopes else None
        ) or frozenset()
        self._clock: Clock = clock if clock is not None else time.time
        self._revocation = revocation
        self._token_type_hint = token_type_hint
        self._lock = threading.Lock()
        self._cache: TLRUCache[bytes, Answer] | None = None
        if max_cache_entries and (self._cache_ttl or self._negative_cache_ttl):
            self._cache = TLRUCache(max_cache_entries, ttu=_expiry, timer=self._clock)
        self._flights: dict[bytes, Flight[Answer]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references
        self._metadata: RemoteDocument[Mapping[str, Any]] | None = None
        self._issuer_url: str | None = None

    @classmethod
    def from_discovery(
        cls: type[V],
        issuer: str,
        *,
        audience: str | Collection[str] | None,
        min_refresh_interval: float = 30,
        **options: Any,
    ) -> V:
        """Return a verifier for the `introspection_endpoint` of `issuer`'s metadata.

        The document is read on first use, like `OIDCDiscovery` reads it: OpenID Connect's
        `openid-configuration`, then RFC 8414's `oauth-authorization-server`; its `issuer`
        must equal `issuer`. While that fails, verification raises `KeySourceUnavailable`
        and the document is asked for again at most once per `min_refresh_interval`.

        Args:
            issuer: the issuer URL, exactly as its answers carry it in `iss`; also the
                default of the `issuer=` check.
            audience: the expected `aud`; None skips the check on purpose.
            min_refresh_interval: least seconds between two attempts to read the document.
            **options: the other keywords of `IntrospectionVerifier` (`client_id`,
                `client_secret` or `auth`, `issuer=` to check another value, ...).

        Raises:
            TypeError, ValueError: as the constructor, or an issuer that cannot be discovered.
        """
        check_issuer(issuer)
        options.setdefault("issuer", issuer)
        # The endpoint is not known yet: any valid URL passes the constructor's checks.
        verifier = cls(issuer, audience=audience, **options)
        verifier._url = None
        verifier._issuer_url = issuer
        verifier._metadata = RemoteDocument(
            verifier._fetch_metadata,
            verifier._fetch_metadata_async,
            policy=RefreshPolicy(math.inf, min_refresh_interval, 0),
            timeout=verifier._fetcher.timeout,
            clock=time.monotonic,
        )
        return verifier

    # -- the checks, written once -----------------------------------------------------------

    def _flow(self, raw: str | bytes, scopes: Collection[str]) -> _Flow:
        text = prepare(raw, self._max_token_bytes)
        if not is_token68(text):  # RFC 6750 §2.1: nothing else is a bearer token
            raise MalformedToken()
        demanded = demanded_scopes(self._required_scopes, scopes)
        answer = yield _Introspect(text)
        assert isinstance(answer, Answer)
        if answer.claims is None:
            raise TokenInactive()
        token = token_from_claims(text, _NO_HEADER, answer.claims, self._policy, self._clock())
        if self._revocation is not None and (yield _CheckRevoked(self._revocation, token)):
            raise TokenRevoked()
        return check_scopes(token, demanded)

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        """Return the `AccessToken` the issuer vouches for (with or without "Bearer ").

        `scopes` are demanded on top of the verifier's `required_scopes`.

        Raises:
            TokenInactive: the issuer says the token is not active.
            TokenError: another reason to refuse it (expired, wrong audience, scopes...).
            KeySourceUnavailable: the endpoint is unreachable, slow, or answered badly.
            RevocationUnavailable: the revocation check's store cannot be reached.
        """
        flow = self._flow(raw, scopes)
        try:
            request = next(flow)
            while True:
                if isinstance(request, _Introspect):
                    request = flow.send(self._answer(request.text))
                else:
                    request = flow.send(request.check.is_revoked(request.token))
        except StopIteration as done:
            token: AccessToken = done.value
            return token

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        """Return the `AccessToken` the issuer vouches for, without blocking the event loop.

        The same checks as `verify()`, in the same order.
        """
        flow = self._flow(raw, scopes)
        try:
            request = next(flow)
            while True:
                if isinstance(request, _Introspect):
                    request = flow.send(await self._answer_async(request.text))
                else:
                    request = flow.send(await request.check.is_revoked_async(request.token))
        except StopIteration as done:
            token: AccessToken = done.value
            return token

    # -- cache and single flight: decisions under the lock, no I/O --------------------------

    def _plan(self, key: bytes) -> tuple[Answer | None, Flight[Answer] | None, bool]:
        """Return (cached answer, None, False), or (None, flight to wait for, start it?)."""
        with self._lock:
            if self._cache is not None:
                answer = self._cache.get(key)
                if answer is not None:
                    return answer, None, False
            flight = self._flights.get(key)
            if flight is not None and flight.remaining() > 0:
                return None, flight, False
            # None under way, or one whose owner is gone: this caller makes the call.
            flight = Flight(time.monotonic() + self._fetcher.timeout)
            self._flights[key] = flight
            return None, flight, True

    def _settle(self, key: bytes, flight: Flight[Answer], document: Mapping[str, Any]) -> None:
        now = self._clock()
        answer = read_introspection(document, now, self._cache_ttl, self._negative_cache_ttl)
        with self._lock:
            if self._cache is not None and answer.until > now:
                self._cache[key] = answer
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.done.set_result(answer)

    def _fail(self, key: bytes, flight: Flight[Answer], exc: BaseException) -> None:
        """Hand a failure to every waiter; nothing is cached, so the next call asks again."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.done.set_exception(exc)

    def _form(self, text: str) -> dict[str, str]:
        form = {"token": text}
        if self._token_type_hint is not None:
            form["token_type_hint"] = self._token_type_hint
        return form

    # -- sync shell ---------------------------------------------------------------------------

    def _answer(self, text: str) -> Answer:
        key = hashlib.sha256(text.encode()).digest()
        answer, flight, start = self._plan(key)
        if flight is None:
            assert answer is not None
            return answer
        if start:
            try:
                response = fetch_json(
                    self._fetcher.client(),
                    self._endpoint(),
                    timeout=self._fetcher.timeout,
                    max_response_bytes=self._fetcher.max_response_bytes,
                    method="POST",
                    data=self._form(text),
                    auth=self._auth,
                )
            except BaseException as exc:
                self._fail(key, flight, exc)
                raise
            self._settle(key, flight, response.document)
        try:
            return flight.done.result(timeout=flight.remaining())
        except concurrent.futures.TimeoutError:
            raise KeySourceUnavailable(_TIMED_OUT) from None
        except KeySourceUnavailable as exc:  # a new error per waiter, like jwks.py
            raise KeySourceUnavailable(exc.description) from exc

    def _endpoint(self) -> str:
        if self._url is not None:
            return self._url
        assert self._metadata is not None
        return _introspection_endpoint(self._metadata.get())

    def _fetch_metadata(self) -> tuple[Mapping[str, Any], None]:
        assert self._issuer_url is not None
        return _with_endpoint(fetch_metadata(self._fetcher, self._issuer_url))

    # -- async shell --------------------------------------------------------------------------

    async def _answer_async(self, text: str) -> Answer:
        key = hashlib.sha256(text.encode()).digest()
        answer, flight, start = self._plan(key)
        if flight is None:
            assert answer is not None
            return answer
        if start:
            # A task of its own: a caller cancelled mid-call leaves it to the other waiters.
            task = asyncio.get_running_loop().create_task(self._run_async(key, flight, text))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(flight.done), flight.remaining())
        except asyncio.TimeoutError:
            raise KeySourceUnavailable(_TIMED_OUT) from None
        except KeySourceUnavailable as exc:
            raise KeySourceUnavailable(exc.description) from exc

    async def _run_async(self, key: bytes, flight: Flight[Answer], text: str) -> None:
        try:
            response = await fetch_json_async(
                self._fetcher.async_client(),
                await self._endpoint_async(),
                timeout=self._fetcher.timeout,
                max_response_bytes=self._fetcher.max_response_bytes,
                method="POST",
                data=self._form(text),
                auth=self._auth,
            )
        except asyncio.CancelledError:
            self._fail(key, flight, KeySourceUnavailable(_TIMED_OUT))
            raise
        except Exception as exc:  # KeySourceUnavailable, or a bug: every waiter sees it
            self._fail(key, flight, exc)
        else:
            self._settle(key, flight, response.document)

    async def _endpoint_async(self) -> str:
        if self._url is not None:
            return self._url
        assert self._metadata is not None
        return _introspection_endpoint(await self._metadata.get_async())

    async def _fetch_metadata_async(self) -> tuple[Mapping[str, Any], None]:
        assert self._issuer_url is not None
        return _with_endpoint(await fetch_metadata_async(self._fetcher, self._issuer_url))

    def __repr__(self) -> str:
        where = self._url if self._url is not None else f"discovery of {self._issuer_url}"
        return f"IntrospectionVerifier({where!r}, audience={self._policy.audiences!r})"


def _with_endpoint(metadata: Mapping[str, Any]) -> tuple[Mapping[str, Any], None]:
    """Return metadata whose `introspection_endpoint` (RFC 8414 §2) is usable, else raise."""
    try:
        check_url(metadata.get("introspection_endpoint"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise KeySourceUnavailable(_BAD_METADATA) from exc
    return metadata, None


def _introspection_endpoint(metadata: Mapping[str, Any] | None) -> str:
    if metadata is None:  # only a forced refresh declines; a guard for type checkers
        raise KeySourceUnavailable()
    endpoint: str = metadata["introspection_endpoint"]
    return endpoint
