"""`AccessToken`: what a verified token tells the application, read-only.

A verifier builds one per accepted token, so construction is kept to a handful of slot
writes; values that are cheap to derive from the claims (subject, dates, ...) are read
when asked for, from claims that were validated before the token was built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, NoReturn

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
    JSON values inside them keep their parsed types (lists stay lists).
    """

    __slots__ = ("audience", "claims", "header", "raw", "roles", "scopes")

    raw: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    audience: tuple[str, ...]
    scopes: frozenset[str]
    roles: frozenset[str]

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
        _set = object.__setattr__
        _set(self, "raw", raw)
        # The verifier passes read-only views already; anything else is copied into one.
        _set(self, "header", header if type(header) is MappingProxyType else _read_only(header))
        _set(self, "claims", claims if type(claims) is MappingProxyType else _read_only(claims))
        _set(self, "audience", audience)
        _set(self, "scopes", scopes)
        _set(self, "roles", roles)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("AccessToken is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("AccessToken is immutable")

    @property
    def subject(self) -> str | None:
        """`sub` (RFC 7519 §4.1.2)."""
        return _string(self.claims.get("sub"))

    @property
    def issuer(self) -> str | None:
        """`iss` (RFC 7519 §4.1.1)."""
        return _string(self.claims.get("iss"))

    @property
    def client_id(self) -> str | None:
        """`client_id` (RFC 9068 §2.2), else `azp` (OpenID Connect Core §2)."""
        return _string(self.claims.get("client_id")) or _string(self.claims.get("azp"))

    @property
    def jti(self) -> str | None:
        """`jti` (RFC 7519 §4.1.7)."""
        return _string(self.claims.get("jti"))

    @property
    def expires_at(self) -> datetime | None:
        """`exp` as an aware UTC datetime."""
        return _instant(self.claims.get("exp"))

    @property
    def issued_at(self) -> datetime | None:
        """`iat` as an aware UTC datetime."""
        return _instant(self.claims.get("iat"))

    @property
    def not_before(self) -> datetime | None:
        """`nbf` as an aware UTC datetime."""
        return _instant(self.claims.get("nbf"))

    def has_scopes(self, *scopes: str) -> bool:
        """Return whether the token grants every one of `scopes`."""
        return self.scopes.issuperset(scopes)

    def require_scopes(self, *scopes: str) -> None:
        """Return if the token grants every one of `scopes`.

        Raises:
            InsufficientScope: naming every scope asked for (RFC 6750 §3's `scope` attribute).
        """
        if not self.scopes.issuperset(scopes):
            raise InsufficientScope(scopes)

    def has_roles(self, *roles: str) -> bool:
        """Return whether the token holds every one of `roles`."""
        return self.roles.issuperset(roles)

    def require_roles(self, *roles: str) -> None:
        """Return if the token holds every one of `roles`.

        Raises:
            Forbidden: a role is missing.
        """
        if not self.roles.issuperset(roles):
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
