"""`TokenVerifier`, and `Verifier`: the protocol every verifier meets and every adapter takes.

Every check is a step of `_pipeline` or a method here, written once. `verify()` and
`verify_async()` are two short drivers that call the same steps in the same order; they
differ only where keys or a revocation answer must be fetched (plain calls against
awaits). A token whose keys are at hand, the usual case, goes straight through: no I/O, no
lock, and no generator to create and finish for every token (see docs/performance.md).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection
from heapq import heappop, heappush
from typing import Any, Final, NamedTuple, Protocol, TypeAlias, runtime_checkable

from . import _claims, _options
from ._algorithms import SUPPORTED_ALGORITHMS
from ._dpop import DPoP, request_checks
from ._keys.base import KeySet, KeySource, VerificationKey
from ._observed import NO_CONTEXT, Context, ObservedVerifier
from ._pipeline import (
    TOO_LARGE,
    Header,
    UnverifiedToken,
    check_claims,
    check_scopes,
    check_signature,
    demanded_scopes,
    parse_header,
    prepare,
    split,
)
from ._revocation import RevocationCheck
from ._token import AccessToken
from .errors import MalformedToken, TokenRevoked, UnknownKey

__all__ = ["TokenVerifier", "Verifier"]

Clock: TypeAlias = Callable[[], float]
#: A token already split and its payload parsed (strictly, by `loads_strict`), unverified: what
#: a `MultiIssuerVerifier` read to choose a verifier, handed over so that it is read once.
Parsed: TypeAlias = tuple[UnverifiedToken, dict[str, Any]]
#: What a caller hands a verifier: the token, with or without its scheme.
Raw: TypeAlias = str | bytes


@runtime_checkable
class Verifier(Protocol):
    """What an adapter needs of a verifier: `TokenVerifier` and any look-alike.

    `IntrospectionVerifier` and `TokenRouter` meet it too; `isinstance()` checks that an
    object has both methods.
    """

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        """Return the verified token or raise a `TokenError` / `KeySourceError`.

        The verifiers of this package also take `request=`, `acr_values=` and `max_age=`
        (see `TokenVerifier`); a verifier of your own needs them only if it is handed them.
        """
        ...

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        """Return the verified token without blocking the event loop."""
        ...


class _KeysNeeded(NamedTuple):
    """A token parsed up to its key lookup, waiting for keys that take I/O to get."""

    unverified: UnverifiedToken
    header: Header
    now: float
    claims: dict[str, Any] | None  # the payload, when it was handed over parsed


# Validated headers, by their base64url segment: issuers sign thousands of tokens with the
# same few headers. Bounded; cleared whole when full, so forged headers cannot grow it.
_HEADER_MEMO_SIZE: Final = 256


class TokenVerifier(ObservedVerifier):
    """Verifies compact JWS access tokens against a key source and a claims policy.

    Every option is checked here, once; see `docs/concepts/verification.md`. `issuer` and
    `audience` have no default: pass None to skip a check on purpose. `dpop=DPoP(...)`
    accepts DPoP-bound tokens (RFC 9449); `verify()` takes what the request carried as
    `request=`, and step-up demands as `acr_values=` and `max_age=` (RFC 9470).
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str | Collection[str] | None,
        audience: str | Collection[str] | None,
        algorithms: str | Collection[str] | None = None,
        leeway: float = 60,
        required_claims: Collection[str] = ("exp",),
        required_scopes: Collection[str] = (),
        scope_claim: str | None = None,
        roles_claim: str | None = "roles",
        token_type: str | None = None,
        max_token_bytes: int = 8192,
        clock: Clock | None = None,
        revocation: RevocationCheck | None = None,
        cache_size: int = 0,
        dpop: DPoP | None = None,
    ) -> None:
        if not isinstance(keys, KeySource):
            raise TypeError("keys must be a KeySource (HMACSecret, StaticKeys, JWKSEndpoint, ...)")
        allowed = _options.names(algorithms, "algorithms")
        if allowed is not None:
            if any(alg.lower() == "none" for alg in allowed):
                raise ValueError('the "none" algorithm is never allowed')
            unknown = allowed - SUPPORTED_ALGORITHMS
            if unknown:
                raise ValueError(f"unsupported algorithms: {sorted(unknown)}")
        options = _options.verifier_options(locals())
        self._clock, self._required_scopes, self._max_token_bytes, self._policy = options
        self._keys = keys
        self._algorithms = allowed if allowed is not None else SUPPORTED_ALGORITHMS
        self._revocation = revocation
        self._dpop = dpop
        self._headers: dict[bytes, Header] = {}
        cache_size = _options.count(cache_size, "cache_size", minimum=0)
        leeway = self._policy.leeway
        self._cache = _VerifiedTokens(cache_size, leeway) if cache_size else None

    def _verify(
        self, raw: Raw, scopes: Collection[str], context: Context, parsed: Parsed | None = None
    ) -> AccessToken:
        """Return the verified token in `raw` (see `ObservedVerifier.verify()`).

        `parsed`: `raw` already prepared, split and its payload parsed (by a
        `MultiIssuerVerifier`, which read it to choose this verifier), so not again.
        """
        # Speed trick: a call that demands no scope, the usual case, makes neither the call of
        # `demanded_scopes` nor that of `check_scopes` (about 900 instructions).
        demanded = (
            demanded_scopes(self._required_scopes, scopes) if scopes else self._required_scopes
        )
        token = self._verify_at_hand(raw, parsed)
        if isinstance(token, _KeysNeeded):
            keys, header = self._keys, token.header
            key = keys.key_set().select(header.kid, header.alg) or _fresh(keys.refresh(), header)
            token = self._check(token.unverified, header, key, token.now, token.claims)
        # Speed trick: a bearer token in a plain call, the usual case, skips the request
        # checks after one test, without a call (`_claims`: the slot, not the property).
        if context is not NO_CONTEXT or self._dpop is not None or "cnf" in token._claims:
            replay_key = self._request_checks(raw, token, context)
            # Speed trick: the replay cache is called directly rather than through
            # `record_proof`'s flow, whose generator and `Call` cost some 8 thousand
            # instructions. A key comes back only from a verifier with `dpop`.
            if replay_key is not None and self._dpop is not None:
                self._dpop._record(replay_key)
        if self._revocation is not None and self._revocation.is_revoked(token):
            raise TokenRevoked()
        return check_scopes(token, demanded) if demanded else token

    async def _verify_async(
        self, raw: Raw, scopes: Collection[str], context: Context, parsed: Parsed | None = None
    ) -> AccessToken:
        """Return the verified token, fetching keys without blocking the event loop.

        The same steps as `_verify()`, in the same order.
        """
        demanded = (
            demanded_scopes(self._required_scopes, scopes) if scopes else self._required_scopes
        )
        token = self._verify_at_hand(raw, parsed)
        if isinstance(token, _KeysNeeded):
            keys, header = self._keys, token.header
            key = (await keys.key_set_async()).select(header.kid, header.alg) or _fresh(
                await keys.refresh_async(), header
            )
            token = self._check(token.unverified, header, key, token.now, token.claims)
        if context is not NO_CONTEXT or self._dpop is not None or "cnf" in token._claims:
            replay_key = self._request_checks(raw, token, context)
            if replay_key is not None and self._dpop is not None:
                await self._dpop._record_async(replay_key)
        if self._revocation is not None and await self._revocation.is_revoked_async(token):
            raise TokenRevoked()
        return check_scopes(token, demanded) if demanded else token

    def _request_checks(self, raw: Raw, token: AccessToken, context: Context) -> str | None:
        """Check the call's request and step-up demands; return the DPoP proof's replay key.

        Run on every call that has any, cache hits included: a DPoP proof belongs to one
        request.
        """
        request, acr_values, max_age = context
        step_up = (acr_values, max_age)
        now, leeway = self._clock(), self._policy.leeway
        claims, dpop = token._claims, self._dpop  # the slots: no descriptor call
        return request_checks(claims, raw, token._raw, request, dpop, step_up, now, leeway)

    def _verify_at_hand(self, raw: Raw, parsed: Parsed | None) -> AccessToken | _KeysNeeded:
        """Verify `raw` as far as it goes without I/O: to the end when its key is at hand.

        Size, structure and header are checked first; a token verified before (`cache_size`)
        only has its dates checked again. A token handed over `parsed` is not split or decoded
        again, but its size is this verifier's to check, and so is its cache.
        """
        if parsed is None:
            text = prepare(raw, self._max_token_bytes)
            claims = None
        else:  # prepared by the MultiIssuerVerifier, whose size limit may be another
            unverified, claims = parsed
            text = unverified.raw
            if len(text) > self._max_token_bytes:
                raise MalformedToken(TOO_LARGE)
        now = self._clock()
        if self._cache is not None:
            cached = self._cache.get(text, now)
            if cached is not None:
                return cached
        if claims is None:  # not handed over: split here
            unverified = split(text)
        header = self._header(unverified.header_segment)
        key_set = self._keys.key_set_nowait()
        key = None if key_set is None else key_set.select(header.kid, header.alg)
        if key is None:
            return _KeysNeeded(unverified, header, now, claims)
        return self._check(unverified, header, key, now, claims)

    def _header(self, segment: bytes) -> Header:
        header = self._headers.get(segment)
        if header is None:
            header = parse_header(segment, self._algorithms)
            if len(self._headers) >= _HEADER_MEMO_SIZE:
                self._headers.clear()
            self._headers[segment] = header
        return header

    def _check(
        self,
        unverified: UnverifiedToken,
        header: Header,
        key: VerificationKey,
        now: float,
        claims: dict[str, Any] | None,
    ) -> AccessToken:
        check_signature(unverified, header, key)
        token = check_claims(unverified, header, self._policy, now, claims)
        if self._cache is not None and "exp" in token._claims:
            self._cache.put(unverified.raw, token, token._claims["exp"], now)
        return token

    def __repr__(self) -> str:
        policy = self._policy
        return (
            f"TokenVerifier(keys={self._keys!r}, issuer={policy.issuers!r}, "
            f"audience={policy.audiences!r})"
        )


def _fresh(key_set: KeySet | None, header: Header) -> VerificationKey:
    """Return the key a refreshed key set offers for the token, or fail as an unknown key."""
    key = None if key_set is None else key_set.select(header.kid, header.alg)
    if key is None:
        raise UnknownKey()
    return key


class _VerifiedTokens:
    """Tokens verified before, by their whole raw form, each until its `exp` and never later.

    At most `size` entries; when full, the entry that expires soonest goes first, and expired
    entries are dropped whenever a token is added. A hit is one dictionary read and two
    comparisons, without a lock: entries are immutable tuples and CPython's dict reads are
    atomic, so only `put()` (which changes the dict and the heap together) takes the lock.
    """

    __slots__ = ("_expiries", "_leeway", "_lock", "_size", "_tokens")

    def __init__(self, size: int, leeway: float) -> None:
        self._size = size
        self._leeway = leeway
        # raw → (token, exp, the later of `nbf` and `iat`: the token is valid from then on)
        self._tokens: dict[str, tuple[AccessToken, float, float]] = {}
        self._expiries: list[tuple[float, str]] = []  # a heap: the soonest expiry first
        self._lock = threading.Lock()

    def get(self, raw: str, now: float) -> AccessToken | None:
        """Return the token verified from `raw`, its dates checked again against `now`; None
        if it is unknown or its `exp` has come.

        Raises:
            TokenNotYetValid: `now` is before its `nbf` or `iat` (a clock set back).
        """
        entry = self._tokens.get(raw)
        if entry is None or now >= entry[1]:
            return None
        # Speed trick: `exp` is before `now` (above, and leeway is never negative), so of the
        # dates only `nbf` and `iat` can fail now, both against one bound kept with the entry:
        # one comparison instead of the three date reads of `check_times` (2.5 thousand
        # instructions). When it fails, `check_times` raises as it would have.
        if now + self._leeway < entry[2]:
            _claims.check_times(entry[0]._claims, now, self._leeway)
        return entry[0]

    def put(self, raw: str, token: AccessToken, exp: float, now: float) -> None:
        """Remember `token` until `exp`; a token whose `exp` has come is not remembered."""
        if now >= exp:
            return
        claims = token._claims
        valid_from = max(claims.get("nbf", -math.inf), claims.get("iat", -math.inf))
        tokens, expiries = self._tokens, self._expiries
        with self._lock:
            while expiries and (expiries[0][0] <= now or len(tokens) >= self._size):
                expiry, old = heappop(expiries)
                entry = tokens.get(old)
                if entry is not None and entry[1] == expiry:
                    del tokens[old]
            tokens[raw] = (token, exp, valid_from)
            heappush(expiries, (exp, raw))

    def __len__(self) -> int:
        return len(self._tokens)
