"""`AccessToken`: what a verified token tells the application, read-only.

A verifier builds one per accepted token, so construction is kept to a handful of slot
writes; values that are cheap to derive from the claims (subject, dates, ...) are read
when asked for, from claims that were validated before the token was built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from .errors import Forbidden, InsufficientScope

__all__ = ["AccessToken"]


def _instant(value: object) -> datetime | None:
    """Return a validated NumericDate as an aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


class AccessToken:
    """A verified access token: its raw form, header, claims and the values read from them.

    Immutable and hashable (by its raw form). `header` and `claims` are read-only views;
    the objects and arrays inside them are still `dict`s and `list`s, read-only ones when
    the verifier parsed them (a cached token is shared by every request that presents it).
    Every attribute is a read-only property over a private slot: the constructor then
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

    @property
    def raw(self) -> str:
        """The compact token as received, without "Bearer "."""
        return self._raw

    @property
    def header(self) -> Mapping[str, Any]:
        """The protected header, read-only."""
        return self._header

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every claim, read-only."""
        return self._claims

    @property
    def audience(self) -> tuple[str, ...]:
        """`aud`, always a tuple."""
        return self._audience

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes granted, from the scope claim."""
        return self._scopes

    @property
    def roles(self) -> frozenset[str]:
        """The roles held, from the roles claim."""
        return self._roles

    @property
    def subject(self) -> str | None:
        """`sub` (RFC 7519 §4.1.2)."""
        return _string(self._claims.get("sub"))

    @property
    def issuer(self) -> str | None:
        """`iss` (RFC 7519 §4.1.1)."""
        return _string(self._claims.get("iss"))

    @property
    def client_id(self) -> str | None:
        """`client_id` (RFC 9068 §2.2), else `azp` (OpenID Connect Core §2)."""
        return _string(self._claims.get("client_id")) or _string(self._claims.get("azp"))

    @property
    def jti(self) -> str | None:
        """`jti` (RFC 7519 §4.1.7)."""
        return _string(self._claims.get("jti"))

    @property
    def expires_at(self) -> datetime | None:
        """`exp` as an aware UTC datetime."""
        return _instant(self._claims.get("exp"))

    @property
    def issued_at(self) -> datetime | None:
        """`iat` as an aware UTC datetime."""
        return _instant(self._claims.get("iat"))

    @property
    def not_before(self) -> datetime | None:
        """`nbf` as an aware UTC datetime."""
        return _instant(self._claims.get("nbf"))

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
