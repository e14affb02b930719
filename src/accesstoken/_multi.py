"""`MultiIssuerVerifier`: one `Verifier` for tokens from several issuers.

A migration between two identity providers, one Keycloak realm per customer, Entra ID's
one issuer per tenant: each needs the token's `iss` to choose how it is checked. The
unverified `iss` only *selects* a verifier; that verifier then checks everything with its
own keys, the exact `iss` included, so a key of one issuer never verifies a token that
names another. An `iss` that selects nothing is refused before any network request, and
a token that fails adds nothing to any cache.

The token is parsed once: split, and its payload decoded and parsed with the strict parser
(`loads_strict`: duplicate members, `NaN` and the like are refused here, before anything is
selected). Selection reads that parse; a `TokenVerifier` is handed it and checks the
signature and the claims of the very same object, so selection and verification cannot
read two different payloads (no parser differential). Any other `Verifier` (introspection,
a `TokenRouter`, one of the application's) is called with the raw token, as it would be
alone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Final, Protocol

from . import _options
from ._json import loads_strict
from ._keys.base import KeySet, KeySource
from ._keys.discovery import OIDCDiscovery, check_issuer
from ._keys.static import StaticKeys
from ._observed import Context, ObservedVerifier, unobserved
from ._pipeline import _b64decode, prepare, split
from ._remote.settings import RemoteOptions, RemoteSettings
from ._token import AccessToken
from ._verifier import Parsed, TokenVerifier, Verifier
from .errors import InvalidIssuer, MalformedToken, MissingClaim

__all__ = ["MultiIssuerVerifier"]

_PLACEHOLDER: Final = "{tenant}"
#: One tenant value: 1 to 64 characters of [A-Za-z0-9._-], so never "/" and never empty.
_TENANT: Final = "([A-Za-z0-9._-]{1,64})"
_LACKS_ISS: Final = 'The access token lacks the required "iss" claim.'
_ABSENT: Final = object()
# The verifier each token verified before chose, by the compact token. Bounded; cleared whole
# when full, so that many tokens cannot grow it.
_CHOSEN_MEMO_SIZE: Final = 1024
# Options of OIDCDiscovery; `clock` is the verifiers' (epoch seconds), never the sources'.
_REMOTE: Final = frozenset(RemoteOptions.__annotations__) - {"clock"}


#: How to call a selected verifier: (verify, verify_async, whether they take the parse,
#: whether to remember the choice). A plain tuple, indexed per token.
Chosen = tuple[Callable[..., AccessToken], Callable[..., Awaitable[AccessToken]], bool, bool]


def _calls(verifier: Verifier) -> Chosen:
    """Return how to call `verifier` without its own events (they are the
    MultiIssuerVerifier's): a `TokenVerifier` takes the parse, any other the raw token.

    A choice is remembered (by the compact token, once it verified) only where a token
    presented again then skips more than the selection: for a verifier that cannot take the
    parse, or that has a `cache_size` cache to answer from without it. For a `TokenVerifier`
    without a cache, the parse handed over is all there is to save, and it is saved anyway.
    """
    if isinstance(verifier, TokenVerifier):
        return verifier._verify, verifier._verify_async, True, verifier._cache is not None
    verify, verify_async = unobserved(verifier)
    return verify, verify_async, False, True


def _parse(text: str) -> Parsed:
    """Return the prepared token split and its payload parsed, strictly, still unverified.

    Raises:
        MalformedToken: not a compact JWS, or its payload is not strict JSON of an object.
    """
    unverified = split(text)
    claims = loads_strict(_b64decode(unverified.payload_segment))
    if claims is None:
        raise MalformedToken()
    return unverified, claims


def _issuer_of(claims: dict[str, Any]) -> str:
    iss = claims.get("iss")
    if iss is None:
        raise MissingClaim(_LACKS_ISS)
    if not isinstance(iss, str):
        raise InvalidIssuer()
    return iss


class MultiIssuerVerifier(ObservedVerifier):
    """Verifies tokens of several issuers, each with the verifier configured for its `iss`.

    Example:
        ```python
        a, b = "https://a.example.com/", "https://b.example.com/"
        verifier = MultiIssuerVerifier({
            a: TokenVerifier(keys=OIDCDiscovery(a), issuer=a, audience="api"),
            b: TokenVerifier(keys=HMACSecret(secret), issuer=b, audience="api"),
        })
        ```

    Args:
        verifiers: each exact `iss` and the `Verifier` for its tokens.
        max_token_bytes: longer input is refused before it is read.

    Raises:
        TypeError: not a mapping of strings to `Verifier`s.
        ValueError: an empty mapping.
    """

    def __init__(self, verifiers: Mapping[str, Verifier], *, max_token_bytes: int = 8192) -> None:
        if not isinstance(verifiers, Mapping):
            raise TypeError("verifiers must map each issuer to its Verifier")
        for iss, verifier in verifiers.items():
            if not isinstance(iss, str) or not isinstance(verifier, Verifier):
                raise TypeError("verifiers must map each issuer (a string) to a Verifier")
        if not verifiers:
            raise ValueError("MultiIssuerVerifier needs at least one issuer")
        self._setup(_Exact(dict(verifiers)), max_token_bytes)

    def _setup(self, select: _Selector, max_token_bytes: int) -> None:
        self._select = select
        self._chosen: dict[str, Chosen] = {}
        self._max_token_bytes = _options.count(max_token_bytes, "max_token_bytes", minimum=1)

    @classmethod
    def _of(cls, select: _Selector, options: Mapping[str, Any]) -> MultiIssuerVerifier:
        """Return a verifier with another way of selecting (the alternative constructors)."""
        verifier = cls.__new__(cls)
        verifier._setup(select, options.get("max_token_bytes", 8192))
        return verifier

    @classmethod
    def from_discovery(
        cls, issuers: Iterable[str], *, audience: str | Collection[str] | None, **options: Any
    ) -> MultiIssuerVerifier:
        """Return a verifier of `TokenVerifier(keys=OIDCDiscovery(iss), issuer=iss)` per issuer.

        Each is built on the first token that names its issuer; many concurrent first tokens
        build one and make one discovery request.

        Args:
            issuers: the issuer URLs, exactly as tokens carry them in `iss`.
            audience: the expected `aud`, for every issuer; None skips the check on purpose.
            **options: any other keyword of `TokenVerifier` or of `OIDCDiscovery` (`clock`
                is the verifiers').

        Raises:
            TypeError, ValueError: an issuer that cannot be discovered, or a bad option.
        """
        if isinstance(issuers, str):
            raise TypeError("issuers must be a collection of issuer URLs")
        names = frozenset(check_issuer(iss) for iss in issuers)
        if not names:
            raise ValueError("MultiIssuerVerifier needs at least one issuer")
        remote = {name: value for name, value in options.items() if name in _REMOTE}
        local = {name: value for name, value in options.items() if name not in _REMOTE}
        # Every option is checked now, not on the first token of an issuer.
        RemoteSettings.of(remote)  # type: ignore[arg-type]
        TokenVerifier(StaticKeys(KeySet()), issuer=sorted(names), audience=audience, **local)

        def build(iss: str) -> Verifier:
            return TokenVerifier(
                OIDCDiscovery(iss, **remote), issuer=iss, audience=audience, **local
            )

        return cls._of(_Lazy(names, build), local)

    @classmethod
    def from_template(
        cls,
        template: str,
        *,
        keys: KeySource,
        audience: str | Collection[str] | None,
        tenants: Collection[str] | None = None,
        tenant_claim: str = "tid",
        **options: Any,
    ) -> MultiIssuerVerifier:
        """Return a verifier of one issuer per tenant, all signed with the shared `keys`.

        `template` has exactly one `{tenant}` placeholder, which matches 1 to 64 characters
        of `[A-Za-z0-9._-]`; the value it matches must equal the token's `tenant_claim`.
        Nothing is kept per tenant: one verifier with the shared keys serves them all.

        Args:
            template: the issuer of every tenant, such as
                "https://login.microsoftonline.com/{tenant}/v2.0".
            keys: the key source shared by every tenant.
            audience: the expected `aud`; None skips the check on purpose.
            tenants: the tenants accepted; None accepts any whose tokens `keys` verify.
            tenant_claim: the claim naming the token's tenant (Entra ID's `tid`).
            **options: any other keyword of `TokenVerifier`.

        Raises:
            ValueError: a template without exactly one placeholder, a tenant that does not fit
                it, or a bad option.
        """
        if not isinstance(template, str) or template.count(_PLACEHOLDER) != 1:
            raise ValueError('a template has exactly one "{tenant}" placeholder')
        if not isinstance(tenant_claim, str) or not tenant_claim:
            raise ValueError("tenant_claim must be a claim name")
        allowed = _options.names(tenants, "tenants")
        if allowed is not None and not all(re.fullmatch(_TENANT, tenant) for tenant in allowed):
            raise ValueError("a tenant is 1 to 64 characters of [A-Za-z0-9._-]")
        prefix, suffix = template.split(_PLACEHOLDER)
        pattern = re.compile(re.escape(prefix) + _TENANT + re.escape(suffix))
        # The issuer is checked by the template, exactly; the shared verifier checks the rest.
        shared = TokenVerifier(keys, issuer=None, audience=audience, **options)
        return cls._of(_Template(pattern, allowed, tenant_claim, shared), options)

    def _verify(self, raw: str | bytes, scopes: Collection[str], context: Context) -> AccessToken:
        """Return the token verified by the verifier of its issuer.

        Raises:
            InvalidIssuer: no configured issuer (or tenant) is named.
            MissingClaim: no `iss` (or, for a template, no tenant claim).
            TokenError, KeySourceError: as the selected verifier raises them.
        """
        chosen, text, parsed = self._choose(raw)
        verify = chosen[0]
        if parsed is None:  # chosen before: nothing was parsed
            return verify(raw, scopes, context)
        token = verify(raw, scopes, context, parsed) if chosen[2] else verify(raw, scopes, context)
        return self._remember(text, chosen, token) if chosen[3] else token

    async def _verify_async(
        self, raw: str | bytes, scopes: Collection[str], context: Context
    ) -> AccessToken:
        """Return the token verified by the verifier of its issuer, without blocking the loop."""
        chosen, text, parsed = self._choose(raw)
        verify = chosen[1]
        if parsed is None:
            return await verify(raw, scopes, context)
        token = await (
            verify(raw, scopes, context, parsed) if chosen[2] else verify(raw, scopes, context)
        )
        return self._remember(text, chosen, token) if chosen[3] else token

    def _choose(self, raw: str | bytes) -> tuple[Chosen, str, Parsed | None]:
        """Return how to call the verifier of `raw`'s issuer, the prepared token, and its
        parse (None when the choice was remembered and nothing was parsed)."""
        text = prepare(raw, self._max_token_bytes)
        # Speed trick: a token verified before by a verifier that gains from it (`_calls`)
        # goes to the same verifier after one dict read, unparsed: with `cache_size`, that
        # verifier answers from its cache and the parse (some 40 thousand instructions for an
        # HS256 token) is never made. An empty memo is not even read (hashing the token).
        if self._chosen:
            chosen = self._chosen.get(text)
            if chosen is not None:
                return chosen, text, None
        parsed = _parse(text)
        return self._select.choose(parsed[1]), text, parsed

    def _remember(self, text: str, chosen: Chosen, token: AccessToken) -> AccessToken:
        """Return `token`, remembering which verifier `text` chose: only once it verified, so
        a token that fails adds nothing."""
        if len(self._chosen) >= _CHOSEN_MEMO_SIZE:
            self._chosen.clear()
        self._chosen[text] = chosen
        return token

    def __repr__(self) -> str:
        return f"MultiIssuerVerifier({self._select!r})"


class _Selector(Protocol):
    """How a `MultiIssuerVerifier` chooses: the unverified claims → how to call the verifier
    that checks them (`_calls`: the events are the MultiIssuerVerifier's own).

    A method rather than `__call__`: calling an object goes through C and a nested run of
    the interpreter, some 700 instructions more than a method call.
    """

    def choose(self, claims: dict[str, Any]) -> Chosen: ...


class _Exact:
    """An exact mapping of `iss` to its verifier."""

    __slots__ = ("_verifiers",)

    def __init__(self, verifiers: dict[str, Verifier]) -> None:
        self._verifiers = {iss: _calls(verifier) for iss, verifier in verifiers.items()}

    def choose(self, claims: dict[str, Any]) -> Chosen:
        verifier = self._verifiers.get(_issuer_of(claims))
        if verifier is None:
            raise InvalidIssuer()
        return verifier

    def __repr__(self) -> str:
        return f"issuers={sorted(self._verifiers)!r}"


class _Lazy:
    """Configured issuers whose verifiers are built on their first token, once."""

    __slots__ = ("_build", "_built", "_issuers", "_lock")

    def __init__(self, issuers: frozenset[str], build: Callable[[str], Verifier]) -> None:
        self._issuers = issuers
        self._build = build
        self._built: dict[str, Chosen] = {}
        self._lock = threading.Lock()

    def choose(self, claims: dict[str, Any]) -> Chosen:
        iss = _issuer_of(claims)
        verifier = self._built.get(iss)
        if verifier is not None:
            return verifier
        if iss not in self._issuers:
            raise InvalidIssuer()  # never a network request for an issuer not configured
        with self._lock:  # building does no I/O: the discovery is fetched on first use
            verifier = self._built.get(iss)
            if verifier is None:
                verifier = self._built[iss] = _calls(self._build(iss))
        return verifier

    def __repr__(self) -> str:
        return f"issuers={sorted(self._issuers)!r}, from discovery"


class _Template:
    """One issuer per tenant: `iss` fits the template and names the token's tenant claim."""

    __slots__ = ("_allowed", "_claim", "_pattern", "_shared")

    def __init__(
        self,
        pattern: re.Pattern[str],
        allowed: frozenset[str] | None,
        claim: str,
        shared: TokenVerifier,
    ) -> None:
        self._pattern = pattern
        self._allowed = allowed
        self._claim = claim
        self._shared = _calls(shared)

    def choose(self, claims: dict[str, Any]) -> Chosen:
        match = self._pattern.fullmatch(_issuer_of(claims))
        if match is None:
            raise InvalidIssuer()
        tenant = match.group(1)
        if self._allowed is not None and tenant not in self._allowed:
            raise InvalidIssuer()
        claim = claims.get(self._claim, _ABSENT)
        if claim is _ABSENT:
            raise MissingClaim(f'The access token lacks the required "{self._claim}" claim.')
        if claim != tenant:
            raise InvalidIssuer()
        return self._shared

    def __repr__(self) -> str:
        return f"template={self._pattern.pattern!r}"
