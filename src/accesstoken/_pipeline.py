"""The steps of verifying a compact JWS access token, pure and in the contract's order.

    prepare → split → parse_header → (key lookup: the verifier's job) → check_signature
    → check_claims

Each step takes what it needs and returns what the next one trusts, or raises one
`TokenError`. Until `check_signature` has passed, nothing read from the token is trusted:
the header is only used to choose an algorithm and a key, and the payload is not even
decoded.
"""

from __future__ import annotations

from binascii import Error as BinasciiError
from binascii import a2b_base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from . import _claims
from ._algorithms import ALGORITHMS, Algorithm
from ._bearer import LONGEST_PREFIX, split_scheme
from ._json import loads_strict
from ._keys.base import VerificationKey
from ._token import AccessToken
from .errors import (
    DisallowedAlgorithm,
    InsufficientScope,
    InvalidSignature,
    MalformedToken,
)

__all__ = [
    "TOO_LARGE",
    "ClaimsPolicy",
    "Header",
    "UnverifiedToken",
    "check_claims",
    "check_scopes",
    "check_signature",
    "demanded_scopes",
    "parse_header",
    "prepare",
    "split",
    "token_from_claims",
]

# RFC 7515 §2 / RFC 4648 §3.5: the unused bits of the last character must be zero, so each
# byte string has exactly one encoding. By length modulo 4, the characters allowed last:
_LAST_CHAR: Final = {
    2: frozenset(b"AQgw"),  # 4 unused bits
    3: frozenset(b"AEIMQUYcgkosw048"),  # 2 unused bits
}
# base64url to base64 (RFC 4648 §5 to §4), and the characters of base64 that base64url lacks
# ("+", "/" and the padding "=") to "*", which is in neither: `_b64decode` then refuses them
# along with everything else outside the alphabet, in the pass that decodes.
_FROM_URLSAFE: Final = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING: Final = (b"", b"", b"==", b"=")
# Header parameters this verifier refuses outright: JWE members (RFC 7516 §4.1) and the
# unencoded payload option (RFC 7797), which would change what the signature covers.
_FORBIDDEN_HEADER: Final = ("enc", "zip", "b64")
#: Why a token longer than a verifier's `max_token_bytes` is refused.
TOO_LARGE: Final = "The access token is too large."
# What "Bearer " and "DPoP " open with: the only characters whose lower case is "b" or "d".
_SCHEME_INITIALS: Final = "bBdD"


def prepare(raw: str | bytes, max_bytes: int) -> str:
    """Return the compact token in `raw`, without an optional "Bearer " prefix.

    Raises:
        MalformedToken: too long (checked before anything else), or not ASCII.
    """
    if len(raw) > max_bytes + LONGEST_PREFIX:
        raise MalformedToken(TOO_LARGE)
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, bytes | bytearray):
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedToken() from None
    else:
        raise TypeError("a token must be str or bytes")
    # Speed trick: a bare token (a JWS opens with "e") skips the call of `split_scheme`, about
    # 3 thousand instructions of the 120 thousand an HS256 verification takes.
    if text[:1] in _SCHEME_INITIALS:
        text = split_scheme(text)[1]
    if len(text) > max_bytes:
        raise MalformedToken(TOO_LARGE)
    return text


def _b64decode(segment: bytes) -> bytes:
    """Return the bytes of a strict base64url segment (RFC 7515 §2: no padding, no other
    character, the unused bits of the last character zero).

    Raises:
        MalformedToken: it is not one.
    """
    size = len(segment) % 4
    if size:
        last = _LAST_CHAR.get(size)
        if last is None or segment[-1] not in last:
            raise MalformedToken()
    try:
        data = a2b_base64(segment.translate(_FROM_URLSAFE) + _PADDING[size])
    except BinasciiError:
        raise MalformedToken() from None
    # a2b_base64 skips what is outside its alphabet ("*" above, any other character), so a
    # segment that held any decodes to fewer bytes than its length gives: three per four
    # characters. (Python 3.11's strict mode would say the same, at a higher price.)
    if len(data) != len(segment) * 3 >> 2:
        raise MalformedToken()
    return data


@dataclass(frozen=True, slots=True)
class Header:
    """A protected header that passed `parse_header`: its algorithm and key id, unverified."""

    unverified_header: Mapping[str, Any]
    alg: str
    kid: str | None
    algorithm: Algorithm  # the table entry of `alg`, looked up once per distinct header


class UnverifiedToken(NamedTuple):
    """A token split into its parts; nothing in it is trusted yet.

    A named tuple rather than a dataclass: one is built for every token, and a tuple is
    the cheapest object Python builds.
    """

    raw: str
    header_segment: bytes
    payload_segment: bytes
    signature_segment: bytes
    signing_input: bytes  # header and payload segments with their dot: what was signed


def split(text: str) -> UnverifiedToken:
    """Return the three segments of a compact JWS (RFC 7515 §7.1), not yet decoded.

    The signature may be empty here so that `alg: none` tokens fail on their algorithm,
    and stripped signatures on their signature, each with its own error. The alphabet of
    each segment is checked where it is decoded (`_b64decode`), before anything in it is
    read: the header before its algorithm is looked at, the signature before it is
    checked, the payload before its claims.

    Raises:
        MalformedToken: not three segments (header and payload non-empty); JWE (five
            segments) included.
    """
    if not text.isascii():
        raise MalformedToken()
    data = text.encode("ascii")
    # Speed trick: no pass over the token to check its alphabet (some 15 instructions a
    # character, 8 thousand for an ES256 token): decoding each segment checks it anyway.
    segments = data.split(b".")
    if len(segments) != 3:
        if len(segments) == 5:
            raise MalformedToken("Encrypted tokens (JWE) are not accepted.")
        raise MalformedToken()
    header, payload, signature = segments
    if not header or not payload:
        raise MalformedToken()
    signing_input = data[: len(header) + 1 + len(payload)]
    # tuple.__new__ directly: a named tuple's own __new__ is a Python function, one more frame.
    return tuple.__new__(UnverifiedToken, (text, header, payload, signature, signing_input))


def parse_header(segment: bytes, algorithms: frozenset[str]) -> Header:
    """Return the header if its `alg` is allowed and nothing in it asks for what we don't do.

    `none` is refused in any spelling; so are `crit` (this verifier understands no
    extension, RFC 7515 §4.1.11), JWE members and `b64`. `jku`, `x5u`, `jwk` and `x5c` are
    left alone: they never select a key.

    Raises:
        MalformedToken: not a JSON object, or a bad `kid`, `crit` or other parameter.
        DisallowedAlgorithm: `alg` missing from the allow-list, or `none`.
    """
    header = loads_strict(_b64decode(segment))
    if header is None:
        raise MalformedToken()
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedToken('The access token\'s header lacks "alg".')
    if alg not in algorithms or alg.lower() == "none":
        raise DisallowedAlgorithm()
    if "crit" in header:
        raise MalformedToken("The access token has critical header parameters it cannot honour.")
    for name in _FORBIDDEN_HEADER:
        if name in header:
            raise MalformedToken()
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedToken()
    if "kid" in header and kid is None:
        raise MalformedToken()
    return Header(MappingProxyType(header), alg, kid, ALGORITHMS[alg])


def check_signature(token: UnverifiedToken, header: Header, key: VerificationKey) -> None:
    """Return if the signature over header and payload verifies with `key` (RFC 7515 §5.2).

    Raises:
        InvalidSignature: it does not.
        MalformedToken: the signature segment is not strict base64url.
    """
    signature = _b64decode(token.signature_segment)
    if not header.algorithm.verify(key.key, token.signing_input, signature):
        raise InvalidSignature()


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a verifier demands of the claims; built and checked once, when it is constructed."""

    issuers: frozenset[str] | None
    audiences: frozenset[str] | None
    leeway: float
    required: tuple[str, ...]
    token_type: str | None
    scope_claim: str | None
    roles_path: tuple[str, ...]


def check_claims(
    token: UnverifiedToken,
    header: Header,
    policy: ClaimsPolicy,
    now: float,
    claims: dict[str, Any] | None = None,
) -> AccessToken:
    """Return the `AccessToken` of a token whose signature has been verified.

    `claims`: its payload, if it was already parsed with `loads_strict` (to choose a
    verifier), else it is decoded and parsed here.

    Raises:
        MalformedToken: the payload is not a JSON object.
        InvalidTokenType: the header's `typ` is not the expected one.
        MissingClaim, InvalidIssuer, InvalidAudience, TokenExpired, TokenNotYetValid,
        InvalidClaim: as `token_from_claims` says.
    """
    if claims is None:
        claims = loads_strict(_b64decode(token.payload_segment))
        if claims is None:
            raise MalformedToken()
    if policy.token_type is not None:
        _claims.check_type(header.unverified_header, policy.token_type)
    return token_from_claims(token.raw, header.unverified_header, claims, policy, now)


def token_from_claims(
    raw: str, header: Mapping[str, Any], claims: dict[str, Any], policy: ClaimsPolicy, now: float
) -> AccessToken:
    """Return the `AccessToken` for claims that come from a trusted source.

    Order (as panva/jose's JWT claims set): required claims, `iss`, `aud`, then the dates
    with one leeway, then the types of the claims exposed as attributes. Shared by JWT
    verification and RFC 7662 introspection responses.

    Raises:
        MissingClaim, InvalidIssuer, InvalidAudience, TokenExpired, TokenNotYetValid,
        InvalidClaim: as each rule says.
    """
    _claims.check_present(claims, policy.required)
    _claims.check_issuer(claims, policy.issuers)
    audience = _claims.check_audience(claims, policy.audiences)
    _claims.check_times(claims, now, policy.leeway)
    _claims.check_strings(claims)
    return AccessToken(
        raw,
        header,
        MappingProxyType(claims),
        audience=audience,
        scopes=_claims.read_scopes(claims, policy.scope_claim),
        roles=_claims.read_roles(claims, policy.roles_path),
    )


def demanded_scopes(required: frozenset[str], scopes: Collection[str]) -> frozenset[str]:
    """Return the scopes one call demands: the verifier's `required` ones and the call's own.

    A single string is one scope, not a collection of characters.
    """
    if not scopes:
        return required
    if isinstance(scopes, str):
        scopes = (scopes,)
    return required.union(scopes)


def check_scopes(token: AccessToken, demanded: frozenset[str]) -> AccessToken:
    """Return `token` if it grants every scope in `demanded` (RFC 6750 §3.1).

    Raises:
        InsufficientScope: naming every demanded scope.
    """
    if demanded and not token._scopes.issuperset(demanded):
        raise InsufficientScope(demanded)
    return token
