"""`AccessToken`: what a verified token tells the application, read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from .errors import Forbidden, InsufficientScope

__all__ = ["AccessToken"]


def _instant(value: object) -> datetime | None:
    """Return a validated NumericDate as an aware UTC datetime."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified access token: its raw form, header, claims and the values read from them.

    Build one with `AccessToken.from_claims()`; a verifier does it for you after every check
    has passed.
    """

    raw: str = field(repr=False)
    header: Mapping[str, Any] = field(repr=False)
    claims: Mapping[str, Any] = field(repr=False)
    subject: str | None
    issuer: str | None
    audience: tuple[str, ...]
    scopes: frozenset[str]
    roles: frozenset[str]
    client_id: str | None
    jti: str | None
    expires_at: datetime | None
    issued_at: datetime | None
    not_before: datetime | None

    @classmethod
    def from_claims(
        cls,
        raw: str,
        header: Mapping[str, Any],
        claims: Mapping[str, Any],
        *,
        subject: str | None,
        issuer: str | None,
        audience: tuple[str, ...],
        scopes: frozenset[str],
        roles: frozenset[str],
        client_id: str | None,
        jti: str | None,
    ) -> AccessToken:
        """Return a token whose header and claims are read-only views of the given mappings."""
        return cls(
            raw=raw,
            header=MappingProxyType(dict(header))
            if not isinstance(header, MappingProxyType)
            else header,
            claims=MappingProxyType(dict(claims))
            if not isinstance(claims, MappingProxyType)
            else claims,
            subject=subject,
            issuer=issuer,
            audience=audience,
            scopes=scopes,
            roles=roles,
            client_id=client_id,
            jti=jti,
            expires_at=_instant(claims.get("exp")),
            issued_at=_instant(claims.get("iat")),
            not_before=_instant(claims.get("nbf")),
        )

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
