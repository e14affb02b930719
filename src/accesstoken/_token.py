"""`AccessToken`: what a verified token tells the application, read-only.

A verifier builds one per accepted token, so construction is kept to a handful of slot
writes; values that are cheap to derive from the claims (subject, dates, ...) are read
when asked for, from claims that were validated before the token was built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Generic, NoReturn, TypeVar, overload

from .errors import Forbidden, InsufficientScope

__all__ = ["AccessToken"]

T = TypeVar("T")


def _instant(value: object) -> datetime | None:
    """Return a validated NumericDate as an aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


class _Read(Generic[T]):
    """A read-only attribute of `AccessToken`, read from its slots by `read`.

    One descriptor for every attribute, instead of a property apiece; assigning one raises
    `AttributeError` as for a property. A read costs a call more than a property's, so the
    verifiers' own code reads the slots (`_claims`, `_raw`, `_scopes`).
    """

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[AccessToken], T]) -> None:
        self._read = read

    @overload
    def __get__(self, token: None, owner: type[AccessToken]) -> _Read[T]: ...
    @overload
    def __get__(self, token: AccessToken, owner: type[AccessToken]) -> T: ...
    def __get__(self, token: AccessToken | None, owner: type[AccessToken]) -> T | _Read[T]:
        return self if token is None else self._read(token)

    def __set__(self, token: AccessToken, value: object) -> NoReturn:
        raise AttributeError("an AccessToken is read-only")


class AccessToken:
    """A verified access token: its raw form, header, claims and the values read from them.

    Immutable and hashable (by its raw form). `header` and `claims` are read-only views;
    the objects and arrays inside them are still `dict`s and `list`s, read-only ones when
    the verifier parsed them (a cached token is shared by every request that presents it).
    Every attribute is read-only (`_Read`) over a private slot: the constructor then
    stores plain slots, several times cheaper than the `object.__setattr__` calls a frozen
    class needs.
    """

    __slots__ = ("_audience", "_claims", "_header", "_raw", "_roles", "_scopes")

    def __init__(
        self,
        raw: str,
        header: Mapping[str, Any],
        claims: Mapping[str, Any],
        *,
        audience: tuple[str, ...] = (),
        scopes: frozenset[str] = frozenset(),
        roles: frozenset[str] = frozenset(),
    ) -> None:
        self._raw = raw
        # The verifier passes read-only views already; anything else is copied into one.
        self._header = header if type(header) is MappingProxyType else _read_only(header)
        self._claims = claims if type(claims) is MappingProxyType else _read_only(claims)
        self._audience = audience
        self._scopes = scopes
        self._roles = roles

    raw = _Read[str](attrgetter("_raw"))
    """The compact token as received, without "Bearer "."""
    header = _Read[Mapping[str, Any]](attrgetter("_header"))
    """The protected header, read-only."""
    claims = _Read[Mapping[str, Any]](attrgetter("_claims"))
    """Every claim, read-only."""
    audience = _Read[tuple[str, ...]](attrgetter("_audience"))
    """`aud`, always a tuple."""
    scopes = _Read[frozenset[str]](attrgetter("_scopes"))
    """The scopes granted, from the scope claim."""
    roles = _Read[frozenset[str]](attrgetter("_roles"))
    """The roles held, from the roles claim."""
    subject = _Read(lambda token: _string(token._claims.get("sub")))
    """`sub` (RFC 7519 §4.1.2)."""
    issuer = _Read(lambda token: _string(token._claims.get("iss")))
    """`iss` (RFC 7519 §4.1.1)."""
    client_id = _Read(
        lambda token: _string(token._claims.get("client_id")) or _string(token._claims.get("azp"))
    )
    """`client_id` (RFC 9068 §2.2), else `azp` (OpenID Connect Core §2)."""
    jti = _Read(lambda token: _string(token._claims.get("jti")))
    """`jti` (RFC 7519 §4.1.7)."""
    expires_at = _Read(lambda token: _instant(token._claims.get("exp")))
    """`exp` as an aware UTC datetime."""
    issued_at = _Read(lambda token: _instant(token._claims.get("iat")))
    """`iat` as an aware UTC datetime."""
    not_before = _Read(lambda token: _instant(token._claims.get("nbf")))
    """`nbf` as an aware UTC datetime."""

    def has_scopes(self, *scopes: str) -> bool:
        """Return whether the token grants every one of `scopes`."""
        return self._scopes.issuperset(scopes)

    def require_scopes(self, *scopes: str) -> None:
        """Return if the token grants every one of `scopes`.

        Raises:
            InsufficientScope: naming every scope asked for (RFC 6750 §3's `scope` attribute).
        """
        if not self._scopes.issuperset(scopes):
            raise InsufficientScope(scopes)

    def has_roles(self, *roles: str) -> bool:
        """Return whether the token holds every one of `roles`."""
        return self._roles.issuperset(roles)

    def require_roles(self, *roles: str) -> None:
        """Return if the token holds every one of `roles`.

        Raises:
            Forbidden: a role is missing.
        """
        if not self._roles.issuperset(roles):
            raise Forbidden("The access token lacks a role this request needs.")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AccessToken):
            return NotImplemented
        return self.raw == other.raw and self.claims == other.claims

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        # Never the raw token: it is a bearer credential and repr() ends up in logs.
        return (
            f"AccessToken(subject={self.subject!r}, issuer={self.issuer!r}, "
            f"audience={self.audience!r}, scopes={sorted(self.scopes)!r}, "
            f"expires_at={self.expires_at!r})"
        )


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(dict(mapping))
