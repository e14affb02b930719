"""The errors of accesstoken: one class per outcome, RFC 6750 codes as class attributes.

```
AccessTokenError
├── TokenError                 the request's token is at fault (400 / 401 / 403)
│   ├── MissingToken           401, no error code (RFC 6750 §3.1)
│   ├── InvalidRequest         400 invalid_request
│   ├── InvalidToken           401 invalid_token
│   │   ├── MalformedToken, DisallowedAlgorithm, UnknownKey, InvalidSignature,
│   │   ├── TokenExpired, TokenNotYetValid, InvalidIssuer, InvalidAudience,
│   │   ├── MissingClaim, InvalidClaim, InvalidTokenType, TokenRevoked, TokenInactive
│   │   └── InvalidDPoPProof   invalid_dpop_proof, with a DPoP challenge (RFC 9449 §7.1)
│   ├── InsufficientUserAuthentication  401 insufficient_user_authentication (RFC 9470)
│   ├── InsufficientScope      403 insufficient_scope
│   └── Forbidden              403
└── KeySourceError             503: the server cannot check tokens right now
    ├── KeySourceUnavailable
    └── RevocationUnavailable
```

A `description` is a fixed sentence chosen by this library. It may name a claim but
never repeats a value taken from the token, so it is safe to send to the client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final

__all__ = [
    "AccessTokenError",
    "DisallowedAlgorithm",
    "Forbidden",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidDPoPProof",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "InvalidTokenType",
    "KeySourceError",
    "KeySourceUnavailable",
    "MalformedToken",
    "MissingClaim",
    "MissingToken",
    "RevocationUnavailable",
    "TokenError",
    "TokenExpired",
    "TokenInactive",
    "TokenNotYetValid",
    "TokenRevoked",
    "UnknownKey",
]

#: The algorithms a DPoP proof may use unless a `DPoP` object says otherwise (API.md).
#: Kept here, at the bottom of the import graph, because the challenge of
#: `InvalidDPoPProof` lists them too; `_dpop.DPoP` checks them against the algorithm table.
DEFAULT_DPOP_ALGORITHMS: Final[tuple[str, ...]] = ("ES256", "RS256", "PS256", "EdDSA")


def _quoted(value: str) -> str:
    """Return `value` as an HTTP quoted-string (RFC 9110 §5.6.4) holding only visible ASCII.

    RFC 6750 §3 allows %x20-21 / %x23-5B / %x5D-7E in its attribute values; anything else
    (control characters, CR/LF, non-ASCII) is replaced, and quote and backslash are escaped,
    so no value can end the header or start another one.
    """
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


def _scope_token(scope: str) -> str:
    """Return a scope-token with every character outside RFC 6749 §3.3's NQCHAR set removed."""
    return "".join(c for c in scope if "!" <= c <= "~" and c not in '"\\')


def _challenge(scheme: str, realm: str | None, params: Iterable[str] = ()) -> str:
    """Return a `WWW-Authenticate` challenge: `scheme`, then `realm` (escaped) and `params`.

    `params` are `name="value"` pairs whose values are already escaped.
    """
    both = [f"realm={_quoted(realm)}", *params] if realm is not None else list(params)
    return f"{scheme} " + ", ".join(both) if both else scheme


def dpop_challenge(algorithms: Iterable[str], realm: str | None = None) -> str:
    """Return a `DPoP` challenge without an error (RFC 9449 §7.1), listing `algorithms`.

    A service that takes DPoP sends it beside its `Bearer` challenge (RFC 9449 §7.2), for
    example when a request carries no token at all.
    """
    return _challenge("DPoP", realm, _algs(algorithms))


def _algs(algorithms: Iterable[str]) -> list[str]:
    names = " ".join(t for t in map(_scope_token, algorithms) if t)
    return [f"algs={_quoted(names)}"] if names else []


class AccessTokenError(Exception):
    """Base of every error this library raises on purpose."""

    status_code: ClassVar[int] = 500
    error: ClassVar[str | None] = None
    default_description: ClassVar[str] = "The access token could not be checked."

    def __init__(self, description: str | None = None) -> None:
        self.description: str = description if description is not None else self.default_description
        super().__init__(self.description)


class TokenError(AccessTokenError):
    """The request's token (or its absence) is at fault; the client can fix it."""

    status_code: ClassVar[int] = 401
    error: ClassVar[str | None] = None
    default_description: ClassVar[str] = "The access token was refused."
    #: The authentication scheme of the challenge (RFC 9110 §11.6.1).
    scheme: ClassVar[str] = "Bearer"

    def www_authenticate(self, realm: str | None = None) -> str:
        """Return the value of the `WWW-Authenticate` header for this error (RFC 6750 §3).

        Every quoted-string value is escaped, so nothing here can inject a header.
        """
        params: list[str] = []
        if self.error is not None:
            params.append(f"error={_quoted(self.error)}")
            params.append(f"error_description={_quoted(self.description)}")
        params.extend(self._extra_params())
        return _challenge(self.scheme, realm, params)

    def _extra_params(self) -> list[str]:
        return []


class MissingToken(TokenError):
    """The request carried no access token (RFC 6750 §3.1: no error code)."""

    status_code = 401
    error = None
    default_description = "An access token is required."


class InvalidRequest(TokenError):
    """The Authorization header is malformed, or the token was sent more than once."""

    status_code = 400
    error = "invalid_request"
    default_description = "The request's authorization is malformed."


class InvalidToken(TokenError):
    """The token is malformed, expired, revoked or otherwise invalid."""

    status_code = 401
    error = "invalid_token"
    default_description = "The access token is invalid."


class MalformedToken(InvalidToken):
    """The token is not a well-formed compact JWS (RFC 7515 §7.1) with JSON header and claims."""

    default_description = "The access token is malformed."


class DisallowedAlgorithm(InvalidToken):
    """The token's `alg` is not allowed (never `none`)."""

    default_description = "The access token's signing algorithm is not allowed."


class UnknownKey(InvalidToken):
    """No key of the key source can verify the token."""

    default_description = "The access token was signed with an unknown key."


class InvalidSignature(InvalidToken):
    """The signature does not verify with the selected key."""

    default_description = "The access token's signature is invalid."


class TokenExpired(InvalidToken):
    """The token's `exp` has passed (RFC 7519 §4.1.4)."""

    default_description = "The access token has expired."


class TokenNotYetValid(InvalidToken):
    """The token's `nbf` has not come yet, or its `iat` lies in the future."""

    default_description = "The access token is not valid yet."


class InvalidIssuer(InvalidToken):
    """The token's `iss` is not the expected issuer."""

    default_description = "The access token was issued by an unexpected issuer."


class InvalidAudience(InvalidToken):
    """The token's `aud` does not name this service."""

    default_description = "The access token is not meant for this audience."


class MissingClaim(InvalidToken):
    """A required claim is absent."""

    default_description = "The access token lacks a required claim."


class InvalidClaim(InvalidToken):
    """A claim has a value of the wrong type or outside its range."""

    default_description = "The access token has an invalid claim."


class InvalidTokenType(InvalidToken):
    """The header's `typ` is not the expected token type (RFC 9068 §4)."""

    default_description = "The token is not of the expected type."


class TokenRevoked(InvalidToken):
    """The token has been revoked."""

    default_description = "The access token has been revoked."


class TokenInactive(InvalidToken):
    """Introspection (RFC 7662) reported the opaque token as not active."""

    default_description = "The access token is not active."


class InvalidDPoPProof(InvalidToken):
    """The request's DPoP proof is missing, malformed or fails a check of RFC 9449 §4.3.

    Its challenge uses the `DPoP` scheme (RFC 9449 §7.1) and lists, in `algs`, the
    algorithms a proof may use: `algorithms`, which whoever raises the error sets to those
    of its `DPoP` options.
    """

    error = "invalid_dpop_proof"
    default_description = "The DPoP proof is invalid."
    scheme = "DPoP"

    def __init__(
        self,
        description: str | None = None,
        *,
        algorithms: Iterable[str] = DEFAULT_DPOP_ALGORITHMS,
    ) -> None:
        self.algorithms: tuple[str, ...] = tuple(algorithms)
        super().__init__(description)

    def _extra_params(self) -> list[str]:
        return _algs(self.algorithms)


class InsufficientUserAuthentication(TokenError):
    """The user's authentication is too weak or too old for this request (RFC 9470).

    `acr_values` (the authentication context classes, any one of which would do) and
    `max_age` (the most seconds since the user authenticated) say what the request
    demanded; the challenge carries them so that the client can ask the authorization
    server for a token that meets them (RFC 9470 §3).
    """

    status_code = 401
    error = "insufficient_user_authentication"
    default_description = "The request needs a stronger or more recent user authentication."

    def __init__(
        self,
        description: str | None = None,
        *,
        acr_values: Iterable[str] = (),
        max_age: float | None = None,
    ) -> None:
        self.acr_values: tuple[str, ...] = (
            (acr_values,) if isinstance(acr_values, str) else tuple(acr_values)
        )
        self.max_age: float | None = max_age
        super().__init__(description)

    def _extra_params(self) -> list[str]:
        params = []
        if self.acr_values:
            params.append(f"acr_values={_quoted(' '.join(self.acr_values))}")
        if self.max_age is not None:
            # RFC 9470 §3 shows whole seconds ("max_age=\"5\""): 300.0 is sent as 300.
            seconds = int(self.max_age) if float(self.max_age).is_integer() else self.max_age
            params.append(f"max_age={_quoted(str(seconds))}")
        return params


class InsufficientScope(TokenError):
    """The token lacks scopes the request needs (RFC 6750 §3.1)."""

    status_code = 403
    error = "insufficient_scope"
    default_description = "The access token lacks the scope this request needs."

    def __init__(self, required_scopes: Iterable[str] = (), description: str | None = None) -> None:
        self.required_scopes: tuple[str, ...] = tuple(sorted(set(required_scopes)))
        super().__init__(description)

    def _extra_params(self) -> list[str]:
        scopes = " ".join(t for t in map(_scope_token, self.required_scopes) if t)
        return [f"scope={_quoted(scopes)}"] if scopes else []


class Forbidden(TokenError):
    """The token is valid but a role or policy refuses the request.

    RFC 6750 has no code of its own for this; `insufficient_scope` ("the request requires
    higher privileges than provided by the access token", §3.1) is the one that fits.
    """

    status_code = 403
    error = "insufficient_scope"
    default_description = "The access token does not grant this request."


class KeySourceError(AccessTokenError):
    """The server cannot check tokens right now (keys or a store unreachable): 503.

    Never the client's fault, so adapters answer 503 without `invalid_token`.
    """

    status_code: ClassVar[int] = 503
    error: ClassVar[str | None] = "temporarily_unavailable"
    default_description = "Access tokens cannot be checked right now."


class KeySourceUnavailable(KeySourceError):
    """No usable key set could be obtained (network error, bad response, and no stale keys)."""

    default_description = "The signing keys are unavailable right now."


class RevocationUnavailable(KeySourceError):
    """The revocation store could not be reached."""

    default_description = "The revocation store is unavailable right now."
