"""Sender-constrained access tokens: DPoP (RFC 9449) and certificate-bound tokens (RFC 8705).

A bearer token works for whoever holds it; a stolen one works for the thief. A
sender-constrained token names, in its `cnf` claim (RFC 7800), the key of the client it was
issued to, and the resource server accepts it only from a request that proves possession
of that key: a DPoP proof signed with it (`cnf.jkt`), or the TLS client certificate it was
bound to (`cnf["x5t#S256"]`).

`binding_checks` is the one step a verifier runs for this, after the token's own signature
and claims hold and before scopes are looked at. It is pure and returns the proof's replay
key; recording that key, the last check, may take a round trip to a shared replay cache, so
the caller does it: `DPoP._record()` / `_record_async()`, or `record_proof` inside a flow
(see `_remote/flow.py`). The DPoP proof is checked in the order of RFC 9449 §4.3, and
nothing in it is trusted before its signature holds with the key the token is bound to.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from binascii import b2a_base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from . import _options
from ._algorithms import ALGORITHMS, Algorithm
from ._bearer import BEARER, DPOP, scheme_cut
from ._claims import is_numeric_date, normalize_type
from ._json import loads_strict
from ._keys.base import VerificationKey
from ._pipeline import _b64decode, split
from ._remote.flow import Call, Flow
from ._replay import MemoryReplayCache, ReplayCache
from ._step_up import check_step_up
from .errors import (
    DEFAULT_DPOP_ALGORITHMS,
    InvalidClaim,
    InvalidDPoPProof,
    InvalidToken,
    MalformedToken,
    dpop_challenge,
)

__all__ = [
    "BEARER",
    "DPOP",
    "DPoP",
    "RequestContext",
    "binding_checks",
    "binding_needed",
    "certificate_thumbprint",
    "jwk_thumbprint",
    "record_proof",
    "request_checks",
]


# A proof carries a public key and a signature: an RSA key of 8192 bits fits four times over.
# Longer input is refused before it is parsed.
_MAX_PROOF_CHARS: Final = 8192
# Checked proof headers, by their base64url segment, per `DPoP` object: a client signs every
# proof with the same header (typ, alg, jwk), so its key is imported once, not per proof.
# Only headers whose key a token was bound to are kept; cleared whole when full, so forged
# headers cannot grow it.
_HEADER_MEMO_SIZE: Final = 256
# The confirmation methods checked here (RFC 9449 §6.1, RFC 8705 §3.1). A token bound by any
# other method is refused: accepting it as a bearer token would drop a binding its issuer set.
_CONFIRMATION_METHODS: Final = frozenset(("jkt", "x5t#S256"))
# The members that make a JWK private (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_MEMBERS: Final = frozenset(("d", "p", "q", "dp", "dq", "qi", "oth", "k"))
# RFC 7638 §3.2 (and RFC 8037 §2 for OKP): the members a thumbprint covers, in sorted order.
_THUMBPRINT_MEMBERS: Final = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Normalized `htu` targets, by URL up to its query: a client's `htu` and the service's own
# URLs repeat, and a hit costs a fraction of a `urlsplit`. Least recently used ones go;
# only URLs of requests whose proof signature held get this far.
_TARGET_MEMO_SIZE: Final = 1024
# Access-token hashes (`ath`), by token: a client sends each token with many proofs, and a
# hit hashes the token for a dict instead of SHA-256. Only verified tokens get this far.
_ATH_MEMO_SIZE: Final = 256
# The longest `jti` used as it is in a replay-cache key; a longer one is hashed.
_KEPT_JTI: Final = 64
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
# A percent-encoded octet, or one character that is not visible ASCII (to be encoded).
_ESCAPE: Final = re.compile(r"%[0-9A-Fa-f]{2}|[^!-~]")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

_ONE_PROOF: Final = "The request must carry exactly one DPoP proof."
_NO_PROOF: Final = "The request lacks the DPoP proof that its access token needs."
_MALFORMED: Final = "The DPoP proof is not a well-formed JWT."
_TYPE: Final = 'The DPoP proof\'s "typ" is not "dpop+jwt".'
_ALGORITHM: Final = "The DPoP proof's signing algorithm is not allowed."
_NO_JWK: Final = 'The DPoP proof\'s header lacks a valid public "jwk".'
_PRIVATE_JWK: Final = "The DPoP proof's header carries a private key."
_OTHER_KEY: Final = "The DPoP proof is signed with a key the access token is not bound to."
_SIGNATURE: Final = "The DPoP proof's signature is invalid."
_HTM: Final = 'The DPoP proof\'s "htm" claim does not match the request method.'
_HTU: Final = 'The DPoP proof\'s "htu" claim does not match the request URL.'
_IAT: Final = 'The DPoP proof\'s "iat" claim is missing or not a valid date.'
_STALE: Final = "The DPoP proof is too old, or issued in the future."
_ATH: Final = 'The DPoP proof\'s "ath" claim does not match the access token.'
_JTI: Final = 'The DPoP proof\'s "jti" claim is missing or not a non-empty string.'
_REPLAYED: Final = "The DPoP proof has been used before."


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a request carried besides its token, for checking sender-constrained tokens.

    Attributes:
        method: The HTTP method, as sent ("POST").
        url: The URL the client addressed, query included or not: behind a proxy, the
            public one (`https://api.example.com/orders`), not the one the app listens on.
        dpop_proof: The value of the request's `DPoP` header, if any. A request with
            several `DPoP` header lines passes them joined with ", " (RFC 9110 §5.3), which
            is refused as more than one proof.
        client_certificate: The TLS client certificate, DER bytes, if the request had one.
    """

    method: str
    url: str
    dpop_proof: str | None = None
    client_certificate: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not isinstance(self.url, str):
            raise TypeError("method and url must be strings")
        if self.dpop_proof is not None and not isinstance(self.dpop_proof, str):
            raise TypeError("dpop_proof must be the DPoP header's value, a string, or None")
        if self.client_certificate is not None and not isinstance(self.client_certificate, bytes):
            raise TypeError("client_certificate must be DER bytes or None")

    def __repr__(self) -> str:
        # The proof and the certificate are long and say nothing useful in a log line.
        return (
            f"RequestContext(method={self.method!r}, url={self.url!r}, "
            f"dpop_proof={'...' if self.dpop_proof else None}, "
            f"client_certificate={'...' if self.client_certificate else None})"
        )


class DPoP:
    """How a verifier accepts DPoP-bound access tokens (RFC 9449); checked once, here.

    Args:
        required: also refuse tokens that are not DPoP-bound (no `cnf.jkt`).
        algorithms: the algorithms a proof may be signed with: asymmetric ones only.
        max_age: the oldest proof accepted, in seconds since its `iat`.
        leeway: how far in the future a proof's `iat` may be, in seconds (clock skew).
        replay_cache: where the `jti` of each accepted proof is remembered, for
            `max_age + leeway` seconds; None gives this object a `MemoryReplayCache` of its
            own. Share a `RedisReplayCache` between replicas.

    Raises:
        TypeError, ValueError: an option of the wrong type or out of range; an algorithm
            that is unknown, symmetric (HS*) or `none`.
    """

    __slots__ = (
        "_allowed",
        "_headers",
        "_replay_ttl",
        "algorithms",
        "leeway",
        "max_age",
        "replay_cache",
        "required",
    )

    def __init__(
        self,
        required: bool = False,
        algorithms: str | Collection[str] = DEFAULT_DPOP_ALGORITHMS,
        max_age: float = 300,
        leeway: float = 5,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        if not isinstance(required, bool):
            raise TypeError("required must be a bool")
        if _options.names(algorithms, "algorithms") is None:
            raise TypeError("algorithms must be a string or a collection of strings")
        ordered = (algorithms,) if isinstance(algorithms, str) else tuple(algorithms)
        for name in ordered:
            spec = ALGORITHMS.get(name)
            if spec is None or spec.kty == "oct":
                raise ValueError(
                    f"DPoP proofs need an asymmetric algorithm; {name!r} is not one "
                    f"(one of {sorted(a for a, s in ALGORITHMS.items() if s.kty != 'oct')})"
                )
        if replay_cache is not None and not isinstance(replay_cache, ReplayCache):
            raise TypeError("replay_cache must have first_use() and first_use_async()")
        self.required: bool = required
        self.algorithms: tuple[str, ...] = tuple(dict.fromkeys(ordered))
        self.max_age: float = _options.seconds(max_age, "max_age", allow_zero=False)
        self.leeway: float = _options.seconds(leeway, "leeway")
        self.replay_cache: ReplayCache = (
            replay_cache if replay_cache is not None else MemoryReplayCache()
        )
        # How long an accepted proof's `jti` is remembered: as long as it could be accepted.
        self._replay_ttl: float = self.max_age + self.leeway
        self._allowed = frozenset(self.algorithms)
        self._headers: dict[bytes, _ProofHeader] = {}

    def challenge(self, realm: str | None = None) -> str:
        """Return a `DPoP` challenge with no error, listing `algorithms` (RFC 9449 §7.1).

        For answers that are not about a proof, such as a request without a token to a
        service that takes DPoP, which sends it beside its `Bearer` challenge (§7.2):
        `DPoP realm="api", algs="ES256 RS256 PS256 EdDSA"`.
        """
        return dpop_challenge(self.algorithms, realm)

    def _refuse(self, description: str) -> InvalidDPoPProof:
        """Return the error for a refused proof, its challenge listing `algorithms`."""
        return InvalidDPoPProof(description, algorithms=self.algorithms)

    def _record(self, replay_key: str) -> None:
        """Record an accepted proof in the replay cache, or refuse it as replayed."""
        if not self.replay_cache.first_use(replay_key, self._replay_ttl):
            raise self._refuse(_REPLAYED)

    async def _record_async(self, replay_key: str) -> None:
        """`_record()`, without blocking the event loop."""
        if not await self.replay_cache.first_use_async(replay_key, self._replay_ttl):
            raise self._refuse(_REPLAYED)

    def __repr__(self) -> str:
        return (
            f"DPoP(required={self.required}, algorithms={self.algorithms!r}, "
            f"max_age={self.max_age:g}, leeway={self.leeway:g}, "
            f"replay_cache={self.replay_cache!r})"
        )


def binding_needed(claims: Mapping[str, Any], scheme: str | None, dpop: DPoP | None) -> bool:
    """Return whether `binding_checks` has anything to check; False for most bearer tokens.

    A verifier may skip it when this is False: no `cnf` claim, no `DPoP` scheme and
    no `DPoP(required=True)`.
    """
    return "cnf" in claims or scheme == DPOP or (dpop is not None and dpop.required)


def binding_checks(
    claims: Mapping[str, Any],
    raw_token: str,
    scheme: str | None,
    request: RequestContext | None,
    dpop: DPoP | None,
    now: float,
) -> str | None:
    """Check that the request proves possession of the key a verified token is bound to.

    Run it after the token's signature and claims hold. It does every check but the last,
    which is I/O: recording the DPoP proof's `jti` in the replay cache (`DPoP._record()`),
    left to the caller to do last, so that a proof refused for any other reason never
    uses up its `jti`.

    Args:
        claims: the token's verified claims (or an introspection answer's).
        raw_token: the token as sent, without its scheme: what the proof's `ath` hashes.
        scheme: `BEARER`, `DPOP` or None (no scheme given), as `split_scheme` returns it.
        request: what the request carried besides the token; None when nothing is known.
        dpop: the verifier's DPoP options; None when it does not accept DPoP.
        now: the verifier's clock, in epoch seconds.

    Returns:
        The replay-cache key of the DPoP proof checked, to record; None when the token is
        not DPoP-bound (and `dpop` may then be None).

    Raises:
        InvalidClaim: `cnf` is not an object, holds a confirmation method not checked here,
            or a `jkt` / `x5t#S256` that is not a non-empty string.
        InvalidToken: a DPoP-bound token without `dpop`, or sent with another scheme than
            `DPoP` (no downgrade to bearer); the `DPoP` scheme with a token that is not
            DPoP-bound; a token without `cnf.jkt` under `DPoP(required=True)`; a
            certificate-bound token without that client certificate.
        InvalidDPoPProof: the proof is missing or fails a check of RFC 9449 §4.3.
    """
    cnf = _confirmation(claims)
    jkt = cnf.get("jkt")
    if jkt is None:
        if scheme == DPOP:
            raise InvalidToken("The DPoP scheme needs a DPoP-bound access token.")
        if dpop is not None and dpop.required:
            raise InvalidToken("This service accepts only DPoP-bound access tokens.")
        replay_key = None
    else:
        if dpop is None:
            raise InvalidToken("The access token is DPoP-bound; this service does not accept DPoP.")
        if scheme != DPOP:
            raise InvalidToken("A DPoP-bound access token must be sent with the DPoP scheme.")
        if request is None or request.dpop_proof is None:
            raise dpop._refuse(_NO_PROOF)
        replay_key = _check_proof(request.dpop_proof, jkt, raw_token, request, dpop, now)
    x5t = cnf.get("x5t#S256")
    if x5t is not None:
        _check_certificate(x5t, request)
    return replay_key


def record_proof(dpop: DPoP, replay_key: str) -> Flow[None]:
    """Record an accepted DPoP proof in the replay cache (RFC 9449 §11.1): the last check.

    Its key is remembered for as long as the proof could still be accepted.

    Raises:
        InvalidDPoPProof: the proof has been used before.
        RevocationUnavailable: the replay cache cannot record the proof (503).
    """
    yield Call(dpop._record, dpop._record_async, (replay_key,))


def _confirmation(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the token's `cnf` claim (RFC 7800 §3.1), empty when it has none."""
    if "cnf" not in claims:
        return {}
    cnf = claims["cnf"]
    if not isinstance(cnf, dict):
        raise InvalidClaim('The access token\'s "cnf" claim must be an object.')
    if not _CONFIRMATION_METHODS.issuperset(cnf):
        raise InvalidClaim("The access token is bound by a method this service does not support.")
    # Speed trick: cnf holds no other names (just tested), so no intersection set is built.
    for name, value in cnf.items():
        if not isinstance(value, str) or not value:
            raise InvalidClaim(f'The access token\'s "cnf" claim has an invalid "{name}".')
    return cnf


class _ProofHeader(NamedTuple):
    """A proof header that passed its checks, with the key it carries, imported."""

    algorithm: Algorithm
    thumbprint: str
    key: VerificationKey


def _check_proof(
    proof: str, jkt: str, raw_token: str, request: RequestContext, dpop: DPoP, now: float
) -> str:
    """Return the replay-cache key of a proof that passes every check but the last (`jti`).

    RFC 9449 §4.3, in order: one value; a well-formed JWT; `typ`; `alg`; the `jwk`, public
    and the one the token is bound to; the signature; then the claims, trusted from there on.
    """
    if "," in proof:  # several DPoP header lines, joined by the framework
        raise dpop._refuse(_ONE_PROOF)
    if len(proof) > _MAX_PROOF_CHARS:
        raise dpop._refuse(_MALFORMED)
    try:
        parts = split(proof)
        signature = _b64decode(parts.signature_segment)
    except MalformedToken:
        raise dpop._refuse(_MALFORMED) from None
    if not signature:
        raise dpop._refuse(_MALFORMED)
    header = dpop._headers.get(parts.header_segment)
    if header is None:
        header = _check_header(parts.header_segment, jkt, dpop)
        if len(dpop._headers) >= _HEADER_MEMO_SIZE:
            dpop._headers.clear()
        dpop._headers[parts.header_segment] = header
    elif header.thumbprint != jkt:
        raise dpop._refuse(_OTHER_KEY)
    if not header.algorithm.verify(header.key.key, parts.signing_input, signature):
        raise dpop._refuse(_SIGNATURE)
    try:
        claims = loads_strict(_b64decode(parts.payload_segment))
    except MalformedToken:
        claims = None
    if claims is None:
        raise dpop._refuse(_MALFORMED)
    if claims.get("htm") != request.method:
        raise dpop._refuse(_HTM)
    htu = claims.get("htu")
    target = _target(htu) if isinstance(htu, str) else None
    if target is None or target != _target(request.url):
        raise dpop._refuse(_HTU)
    iat = claims.get("iat")
    if not is_numeric_date(iat):
        raise dpop._refuse(_IAT)
    if not now - dpop.max_age <= iat <= now + dpop.leeway:
        raise dpop._refuse(_STALE)
    if claims.get("ath") != _ath(raw_token):
        raise dpop._refuse(_ATH)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise dpop._refuse(_JTI)
    return _replay_key(jkt, jti)


def _replay_key(jkt: str, jti: str) -> str:
    """Return the replay-cache key of a proof: the key it was signed with, then its `jti`,
    so that one client's `jti` never stands in for another's.

    A `jti` of up to 64 characters (22 for 128 random bits, 36 for a UUID) is kept as it is,
    after the thumbprint and a ":"; a longer one is hashed with the thumbprint (SHA-256,
    base64url), so that no key is longer than 108 characters. A thumbprint is base64url, so
    a key holds a ":" exactly when its `jti` was kept: the two forms never meet.
    """
    if len(jti) <= _KEPT_JTI:
        # Speed trick: no SHA-256 for the usual `jti` (11 thousand instructions).
        return f"{jkt}:{jti}"
    return _sha256_b64(_utf8(f"{jkt}\n{jti}"))


def _check_header(segment: bytes, jkt: str, dpop: DPoP) -> _ProofHeader:
    """Return a proof header that passes RFC 9449 §4.3's header checks, its `jwk` imported.

    The thumbprint is compared before the key is imported: a key the token is not bound to
    is never imported. What this returns depends on nothing but `segment` and the `DPoP`
    options (and `jkt`, which the caller compares again for each token).
    """
    try:
        header = loads_strict(_b64decode(segment))
    except MalformedToken:
        header = None
    if header is None:
        raise dpop._refuse(_MALFORMED)
    typ = header.get("typ")
    if not isinstance(typ, str) or normalize_type(typ) != "dpop+jwt":
        raise dpop._refuse(_TYPE)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in dpop._allowed:
        raise dpop._refuse(_ALGORITHM)
    if "crit" in header:  # no extension is understood here (RFC 7515 §4.1.11)
        raise dpop._refuse(_MALFORMED)
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise dpop._refuse(_NO_JWK)
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):
        raise dpop._refuse(_PRIVATE_JWK)
    try:
        thumbprint = jwk_thumbprint(jwk)
    except ValueError:
        raise dpop._refuse(_NO_JWK) from None
    if thumbprint != jkt:
        raise dpop._refuse(_OTHER_KEY)
    try:
        key = VerificationKey.from_jwk(jwk, allow_secret=False)
    except ValueError:
        raise dpop._refuse(_NO_JWK) from None
    if alg not in key.algorithms:  # the key's type, curve or size cannot do this alg
        raise dpop._refuse(_NO_JWK)
    return _ProofHeader(ALGORITHMS[alg], thumbprint, key)


def _check_certificate(x5t: str, request: RequestContext | None) -> None:
    """Require the client certificate a token is bound to (RFC 8705 §3)."""
    der = request.client_certificate if request is not None else None
    if der is None:
        raise InvalidToken("The access token is bound to a client certificate; none was presented.")
    if certificate_thumbprint(der) != x5t:
        raise InvalidToken("The access token is bound to another client certificate.")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a public RSA, EC or OKP JWK, base64url.

    Only the members that define the key count, in the order and form of RFC 7638 §3:
    `{"crv":...,"kty":"EC","x":...,"y":...}` with no whitespace, hashed as UTF-8.

    Raises:
        ValueError: another key type, or a required member missing or not a string.
    """
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError("a JWK thumbprint needs an RSA, EC or OKP key")
    required = {name: jwk.get(name) for name in members}
    if not all(isinstance(value, str) for value in required.values()):
        raise ValueError("a JWK lacks a member of its key type")
    text = json.dumps(required, separators=(",", ":"), ensure_ascii=False)
    return _sha256_b64(_utf8(text))


def certificate_thumbprint(der: bytes) -> str:
    """Return a certificate's `x5t#S256` (RFC 8705 §3.1): base64url SHA-256 of its DER."""
    return _sha256_b64(der)


def _target(url: str) -> tuple[str, str, str, int | None, str] | None:
    """Return what `htu` is compared on, or None when `url` is no absolute URL.

    RFC 9449 §4.3 compares the URL without query and fragment, after the normalizations of
    RFC 3986 §6.2.2 and §6.2.3: scheme and host in lower case, a default port left out, an
    empty path read as "/", percent-encodings of unreserved characters decoded and the
    others in upper case. Userinfo stays, and must match as it is.
    """
    # Speed trick: the first "?" or "#" ends the path (RFC 3986 §3), so cutting there
    # changes nothing `urlsplit` returns but the query and fragment, which are dropped;
    # without the cut, a request URL whose query changes would miss the memo every time.
    return _normal_target(url.partition("?")[0].partition("#")[0])


@functools.lru_cache(maxsize=_TARGET_MEMO_SIZE)
def _normal_target(url: str) -> tuple[str, str, str, int | None, str] | None:
    """Return `_target(url)` for a `url` without query and fragment (memoised)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, an unbalanced "[" in the host
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if not scheme or not host:
        return None
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    userinfo = parts.netloc.rpartition("@")[0]
    return scheme, userinfo, host, port, _ESCAPE.sub(_normal_escape, parts.path) or "/"


def _normal_escape(match: re.Match[str]) -> str:
    """Return one percent-encoding in normal form, or encode one character that needs it."""
    found = match.group()
    if found[0] == "%" and len(found) == 3:
        char = chr(int(found[1:], 16))
        return char if char in _UNRESERVED else found.upper()
    return "".join(f"%{byte:02X}" for byte in _utf8(found))


@functools.lru_cache(maxsize=_ATH_MEMO_SIZE)
def _ath(token: str) -> str:
    """Return the `ath` of a proof sent with `token` (RFC 9449 §4.2), memoised."""
    return _sha256_b64(_utf8(token))


def _utf8(text: str) -> bytes:
    # Lone surrogates (a JSON "\ud800") are kept rather than raised on: they only ever
    # make a comparison fail.
    return text.encode("utf-8", "surrogatepass")


def _sha256_b64(data: bytes) -> str:
    """Return the SHA-256 of `data` in base64url without padding: a thumbprint, an `ath`."""
    # binascii directly: base64.urlsafe_b64encode() costs two Python calls more. A digest
    # is 32 bytes, 43 characters then "=" and a newline: a slice drops both.
    return b2a_base64(hashlib.sha256(data).digest())[:-2].translate(_TO_URLSAFE).decode("ascii")


def request_checks(
    claims: Mapping[str, Any],
    raw: str | bytes,
    token: str,
    request: RequestContext | None,
    dpop: DPoP | None,
    step_up: tuple[str | Collection[str], float | None],
    now: float,
    leeway: float,
) -> str | None:
    """Check what a call demands beyond the token: run after the claims hold, before revocation.

    The binding of a sender-constrained token (`binding_checks`), then step-up
    (`check_step_up`). `TokenVerifier` skips it for a bearer token in a plain call.

    Args:
        claims: the verified claims (or an introspection answer's).
        raw: what the caller passed, scheme included: the scheme tells DPoP from Bearer.
        token: the token without its scheme (what a proof's `ath` hashes), as `prepare`
            returned it from `raw`.
        request: what the request carried besides the token.
        dpop: the verifier's DPoP options, or None. A verifier without them takes the DPoP
            scheme's prefix off an unbound token like "Bearer ": such a token is a bearer
            token, and telling the schemes apart for every token would cost a string test.
        step_up: the call's `acr_values` and `max_age`.
        now: the verifier's clock.
        leeway: the verifier's leeway, for `auth_time`.

    Returns:
        The replay-cache key of the DPoP proof checked, for the caller to record last
        (`DPoP._record()` / `_record_async()`, or `record_proof` in a flow); None when
        there was none.
    """
    scheme = scheme_cut(raw, token)
    replay_key = (
        binding_checks(claims, token, scheme, request, dpop, now)
        if binding_needed(claims, scheme, dpop)
        else None
    )
    check_step_up(claims, step_up[0], step_up[1], now, leeway)
    return replay_key
