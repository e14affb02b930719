"""Find the bearer token of a request: the one parser every adapter shares.

Frameworks are lenient here (FastAPI's `get_authorization_scheme_param` splits on the first
space and strips the rest), which lets `Bearer  abc ` or `Bearer a b` through as something.
RFC 6750 §2.1 is narrower, and so is this module:

    credentials = "Bearer" 1*SP b64token        (RFC 6750 §2.1; we allow exactly one SP)
    b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

The scheme is matched case-insensitively (RFC 9110 §11.1), by `split_scheme` alone: the
verifiers (which take a token with or without its prefix), `TokenRouter` and the command
line call it too, so that no two readers of the prefix can disagree. RFC 6750 §2 forbids sending the
token by more than one method; a token in the URI (`access_token`, RFC 6750 §2.3) is never
accepted here, and a request carrying one is refused rather than silently treated as
anonymous, so that the client learns its token leaks into URLs and logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import AnyStr, Final
from urllib.parse import parse_qsl

from .errors import InvalidRequest, MissingToken

__all__ = [
    "BEARER",
    "DPOP",
    "LONGEST_PREFIX",
    "authorization_values",
    "is_dpop_scheme",
    "is_token68",
    "join_dpop",
    "query_has_token",
    "scheme_cut",
    "split_scheme",
    "token_from_headers",
]

#: The auth-schemes that `split_scheme` recognises: RFC 6750's and RFC 9449's.
BEARER: Final = "bearer"
DPOP: Final = "dpop"
#: The longest prefix `split_scheme` takes off ("Bearer "): how much longer than a token the
#: text holding it may be.
LONGEST_PREFIX: Final = len("Bearer ")
# The scheme `split_scheme` took off a text, by how many characters it took.
_SCHEME_BY_LENGTH: Final = {LONGEST_PREFIX: BEARER, len("DPoP "): DPOP}

# The b64token alphabet, for one bytes.translate() pass instead of a regular expression
# over a token that is often a kilobyte long.
_B64TOKEN: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
_AUTH_SCHEME: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2 token


def split_scheme(value: AnyStr) -> tuple[str | None, AnyStr]:
    """Return the auth-scheme that `value` opens with, and the credentials after it.

    `("bearer", "abc")` for `"Bearer abc"` (the scheme in any case, then one space),
    `("dpop", "abc")` for `"DPoP abc"`; `("bearer", "")` for `"Bearer"` alone (and
    `("dpop", "")` for `"DPoP"`); `(None, value)` for anything else: a bare token,
    or the credentials of another scheme such as `"Basic dXNlcjpwYXNz"`. Text (a token
    handed to a verifier) and bytes (a header as ASGI gives it) alike.
    """
    head = value[:LONGEST_PREFIX].lower()
    # One branch per type rather than a table of prefixes: this runs for every token.
    if isinstance(head, str):
        if head == "bearer ":
            return BEARER, value[LONGEST_PREFIX:]
        if head == "bearer":  # a Bearer credential without its token
            return BEARER, value[:0]
        if head[:5] == "dpop ":
            return DPOP, value[5:]
        if head == "dpop":
            return DPOP, value[:0]
    elif head == b"bearer ":
        return BEARER, value[LONGEST_PREFIX:]
    elif head == b"bearer":
        return BEARER, value[:0]
    elif head[:5] == b"dpop ":
        return DPOP, value[5:]
    elif head == b"dpop":
        return DPOP, value[:0]
    return None, value


def scheme_cut(text: str | bytes, credentials: str) -> str | None:
    """Return the scheme `split_scheme(text)` found, given the `credentials` it returned.

    Speed trick: the two lengths tell it ("Bearer " is 7 characters, "DPoP " 5, a bare
    token 0), so a verifier that has split the scheme once reads it again with one
    subtraction instead of a second split (4.7 thousand instructions).
    """
    return _SCHEME_BY_LENGTH.get(len(text) - len(credentials))


def is_token68(value: str) -> bool:
    """Return whether `value` has the `b64token` syntax of RFC 6750 §2.1."""
    return value.isascii() and _is_b64token(value.encode("ascii"))


def _is_b64token(data: bytes) -> bool:
    # Bytes outside the alphabet (non-ASCII included) survive the deletion.
    body = data.rstrip(b"=")
    return bool(body) and not body.translate(None, _B64TOKEN)


def authorization_values(headers: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """Return every `Authorization` value among an ASGI scope's raw headers, in order.

    Names are compared case-insensitively even though ASGI servers send them lower-cased, so
    that a second header spelled differently is still seen (and refused as a duplicate).
    """
    values = []
    for name, value in headers:  # a loop: a comprehension builds a function per call on 3.11
        if len(name) == 13 and name.lower() == b"authorization":
            values.append(value)
    return values


def token_from_headers(
    values: Sequence[str | bytes], *, query_token: bool = False, dpop: bool = False
) -> str:
    """Return the raw token of a request's `Authorization` header values.

    A `Bearer` token is returned alone; with `dpop`, a `DPoP` token is accepted too and
    returned with its scheme (`"DPoP <token>"`), so that the verifier, which reads the
    scheme, refuses a DPoP-bound token sent as `Bearer` and checks the proof of one sent
    as `DPoP`.

    Args:
        values: every `Authorization` header of the request, in order (a header sent twice
            gives two values); bytes (as ASGI gives them) are read as latin-1.
        query_token: whether the request also carries an `access_token` query parameter.
        dpop: accept the `DPoP` scheme (RFC 9449 §7.1): the verifier has DPoP options.

    Raises:
        MissingToken: no `Authorization` header, or one for another scheme (say, Basic, or
            DPoP without `dpop`).
        InvalidRequest: the header is sent twice, is malformed, or a token is also in the
            query string (RFC 6750 §2: one method per request).
    """
    if query_token:
        raise InvalidRequest("Send the access token in the Authorization header, not in the URL.")
    if not values:
        raise MissingToken()
    if len(values) > 1:
        raise InvalidRequest("The Authorization header must be sent once.")
    value = values[0]
    if isinstance(value, str):  # WSGI: header values are latin-1 text
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidRequest("The Authorization header is malformed.") from None
    # Parsed as bytes, as ASGI hands them over: the token is decoded once, after it is known
    # to be ASCII.
    scheme, token = split_scheme(value)
    if scheme != BEARER:
        if scheme == DPOP and dpop:  # here, not before: Bearer pays nothing for it
            if not _is_b64token(token):
                raise InvalidRequest('The Authorization header must be "DPoP" and one token.')
            return "DPoP " + token.decode("ascii")
        if _AUTH_SCHEME.fullmatch(value.partition(b" ")[0]):
            raise MissingToken()  # another scheme's credentials: no bearer token was offered
        raise InvalidRequest("The Authorization header is malformed.")
    if not _is_b64token(token):
        raise InvalidRequest('The Authorization header must be "Bearer" and one token.')
    return token.decode("ascii")


def is_dpop_scheme(value: str | bytes) -> bool:
    """Return whether an `Authorization` value opens with the `DPoP` scheme."""
    if isinstance(value, bytes):
        return split_scheme(value)[0] == DPOP
    return split_scheme(value)[0] == DPOP


def join_dpop(values: Sequence[str | bytes]) -> str | None:
    """Return a request's `DPoP` header lines as one value, None when it sent none.

    Several lines are joined with ", " (RFC 9110 §5.3), which the verifier refuses as more
    than one proof rather than picking one of them.
    """
    if not values:
        return None
    return ", ".join(v.decode("latin-1") if isinstance(v, bytes) else v for v in values)


def query_has_token(query_string: str | bytes) -> bool:
    """Return whether a raw query string carries an `access_token` parameter (RFC 6750 §2.3)."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if "access_token" not in query_string:
        return False
    return any(name == "access_token" for name, _ in parse_qsl(query_string, True))
