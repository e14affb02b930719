"""`IntrospectionVerifier`: opaque access tokens, checked with the issuer (RFC 7662).

An opaque token says nothing by itself: the resource server POSTs it to the authorization
server's introspection endpoint, authenticated as a client, and reads back whether it is
`active` and the claims it stands for. Those claims then go through the same rules as a
JWT's (`_pipeline.token_from_claims`: `iss`, `aud`, `exp`/`nbf`/`iat`, scopes, roles).

Asking on every request would put the identity provider on every request's path, so the
answers are cached under the SHA-256 of the token (the token itself is never a key, a log
line or an error message): a positive answer at most `cache_ttl` seconds and never past
the token's `exp`, a negative one `negative_cache_ttl` seconds. Failures are never cached.
Concurrent requests for one token share one call, whether they come from threads or
asyncio tasks: `_remote.flight.SingleFlight`, keyed by the token's hash, the engine that
JWK Sets and discovery documents use too.

The checks are written once, as a flow (`_remote.flow`) that yields the calls it needs
(an introspection answer, a revocation answer); `verify()` runs it in the caller's thread,
`verify_async()` on the event loop.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeAlias, TypeVar
from urllib.parse import quote_plus

import httpx
from cachetools import TLRUCache
from typing_extensions import Unpack

from . import _claims, _options
from ._bearer import is_token68
from ._dpop import DPoP, record_proof, request_checks
from ._keys.discovery import check_issuer, metadata_document, required
from ._observed import Context, ObservedVerifier
from ._pipeline import check_scopes, demanded_scopes, prepare, token_from_claims
from ._remote.fetch import check_url, fetch_json
from ._remote.flight import Flight, RemoteDocument, SingleFlight
from ._remote.flow import Call, Flow, run, run_async
from ._remote.policy import RefreshPolicy
from ._remote.settings import HTTPOptions, RemoteSettings, http_settings
from ._revocation import RevocationCheck
from ._token import AccessToken
from .errors import KeySourceUnavailable, MalformedToken, TokenInactive, TokenRevoked
from .events import IntrospectionCalled, hub

__all__ = ["IntrospectionVerifier", "read_introspection"]

Clock: TypeAlias = Callable[[], float]
V = TypeVar("V", bound="IntrospectionVerifier")

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


def revocation_call(check: RevocationCheck, token: AccessToken) -> Call[bool]:
    """Return the `Call` a flow yields to ask `check` whether `token` is revoked."""
    return Call(check.is_revoked, check.is_revoked_async, (token,))


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


class IntrospectionVerifier(ObservedVerifier):
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
        cache_ttl: seconds a positive answer is reused (never past the token's `exp`);
            0 asks on every call.
        negative_cache_ttl: seconds an inactive answer is reused; 0 does not keep them.
        max_cache_entries: the most answers kept.
        required_scopes: scopes every call demands.
        scope_claim: as for `TokenVerifier`.
        roles_claim: as for `TokenVerifier`.
        leeway: as for `TokenVerifier`.
        clock: as for `TokenVerifier`.
        revocation: an optional `RevocationCheck`, asked after the claims are checked.
        required_claims: claims the answer must hold (RFC 7662 makes all of them optional).
        token_type_hint: sent with every call; None sends none.
        max_token_bytes: longer tokens are refused without a call.
        dpop: accept DPoP-bound tokens (an answer's `cnf.jkt`, RFC 9449), with these options.
        **http: `HTTPOptions`: `http_client` and `async_http_client` (httpx clients to
            use; else our own), `timeout` (seconds one call may take in all, 5.0) and
            `max_response_bytes` (the largest response accepted).

    Raises:
        TypeError: an option of the wrong type, an unknown option, or no client
            authentication.
        ValueError: an option out of range.
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
        dpop: DPoP | None = None,
        **http: Unpack[HTTPOptions],
    ) -> None:
        unknown = http.keys() - HTTPOptions.__annotations__.keys()
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        # The endpoint, or (from_discovery) the metadata document that names it.
        self._endpoint: str | RemoteDocument[Mapping[str, Any]] = check_url(url)
        self._auth = _client_auth(client_id, client_secret, auth)
        self._http = http_settings(http)
        self._cache_ttl = _options.seconds(cache_ttl, "cache_ttl")
        self._negative_cache_ttl = _options.seconds(negative_cache_ttl, "negative_cache_ttl")
        max_cache_entries = _options.count(max_cache_entries, "max_cache_entries", minimum=0)
        options = _options.verifier_options(locals())
        self._clock, self._required_scopes, self._max_token_bytes, self._policy = options
        self._dpop = dpop
        if token_type_hint is not None and not isinstance(token_type_hint, str):
            raise TypeError("token_type_hint must be a string or None")
        self._revocation = revocation
        self._token_type_hint = token_type_hint
        self._cache: TLRUCache[bytes, Answer] | None = None
        if max_cache_entries and (self._cache_ttl or self._negative_cache_ttl):
            self._cache = TLRUCache(max_cache_entries, ttu=_expiry, timer=self._clock)
        # One call per token hash; the cache is read and written under its lock.
        self._flights: SingleFlight[bytes, Answer] = SingleFlight(
            self._http.timeout, self._settle_locked
        )

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
        policy = RefreshPolicy(math.inf, min_refresh_interval, 0)
        settings = RemoteSettings(verifier._http, policy, time.monotonic)
        verifier._endpoint = metadata_document(issuer, "introspection_endpoint", settings, verifier)
        return verifier

    # -- the checks, written once -----------------------------------------------------------

    def _flow(
        self, raw: str | bytes, scopes: Collection[str], context: Context
    ) -> Flow[AccessToken]:
        text = prepare(raw, self._max_token_bytes)
        if not is_token68(text):  # RFC 6750 §2.1: nothing else is a bearer token
            raise MalformedToken()
        demanded = demanded_scopes(self._required_scopes, scopes)
        answer = yield from self._answer(text)
        if answer.claims is None:
            raise TokenInactive()
        now = self._clock()
        token = token_from_claims(text, _NO_HEADER, answer.claims, self._policy, now)
        request, acr_values, max_age = context
        leeway = self._policy.leeway
        replay_key = request_checks(
            token.claims, raw, text, request, self._dpop, (acr_values, max_age), now, leeway
        )
        if replay_key is not None and self._dpop is not None:
            yield from record_proof(self._dpop, replay_key)
        if self._revocation is not None and (yield revocation_call(self._revocation, token)):
            raise TokenRevoked()
        return check_scopes(token, demanded)

    def _verify(self, raw: str | bytes, scopes: Collection[str], context: Context) -> AccessToken:
        """Return the `AccessToken` the issuer vouches for (with or without "Bearer ").

        `scopes` are demanded on top of the verifier's `required_scopes`.

        Raises:
            TokenInactive: the issuer says the token is not active.
            TokenError: another reason to refuse it (expired, wrong audience, scopes...).
            KeySourceUnavailable: the endpoint is unreachable, slow, or answered badly.
            RevocationUnavailable: the revocation check's store cannot be reached.
        """
        return run(self._flow(raw, scopes, context))

    async def _verify_async(
        self, raw: str | bytes, scopes: Collection[str], context: Context
    ) -> AccessToken:
        """Return the `AccessToken` the issuer vouches for, without blocking the event loop.

        The same checks as `verify()`, in the same order.
        """
        return await run_async(self._flow(raw, scopes, context))

    # -- the answer: cached, or one call per token however many ask --------------------------

    def _answer(self, text: str) -> Flow[Answer]:
        key = hashlib.sha256(text.encode()).digest()
        with self._flights.lock:
            cached = self._cache.get(key) if self._cache is not None else None
            if cached is not None:
                return cached
            flight, start = self._flights.join_locked(key)
        answer: Answer = yield self._flights.call(
            key, flight, start, lambda: self._introspect(text)
        )
        return answer

    def _introspect(self, text: str) -> Flow[Answer]:
        endpoint = self._endpoint
        if not isinstance(endpoint, str):
            endpoint = required((yield from endpoint.get()))["introspection_endpoint"]
        form = {"token": text}
        if self._token_type_hint is not None:
            form["token_type_hint"] = self._token_type_hint
        started = time.monotonic()
        try:
            response = yield from fetch_json(
                self._http, endpoint, method="POST", data=form, auth=self._auth
            )
        except KeySourceUnavailable:
            self._called(endpoint, None, started)
            raise
        now = self._clock()
        answer = read_introspection(
            response.document, now, self._cache_ttl, self._negative_cache_ttl
        )
        self._called(endpoint, answer.claims is not None, started)
        return answer

    def _called(self, endpoint: str, active: bool | None, started: float) -> None:
        if hub.active:  # the answer itself never leaves this module
            duration = time.monotonic() - started
            hub.emit(IntrospectionCalled(self, endpoint, active, duration))

    def _settle_locked(
        self, key: bytes, _flight: Flight[Answer], answer: Answer | None, _error: object
    ) -> None:
        """Keep an answer while it may be reused; a failure is never kept (the next call asks)."""
        if answer is not None and self._cache is not None and answer.until > self._clock():
            self._cache[key] = answer

    def __repr__(self) -> str:
        endpoint = self._endpoint
        where = endpoint if isinstance(endpoint, str) else "discovery"
        return f"IntrospectionVerifier({where!r}, audience={self._policy.audiences!r})"
