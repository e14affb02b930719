"""`RevocationCheck`: the question a verifier asks after every other check has passed."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._token import AccessToken

__all__ = ["RevocationCheck"]


@runtime_checkable
class RevocationCheck(Protocol):
    """Tells whether a verified token has been revoked.

    Implementations raise `RevocationUnavailable` when their store cannot be reached; a
    verifier never treats that as "not revoked".
    """

    def is_revoked(self, token: AccessToken) -> bool:
        """Return True if `token` must no longer be accepted."""
        ...

    async def is_revoked_async(self, token: AccessToken) -> bool:
        """Return True if `token` must no longer be accepted, without blocking the loop."""
        ...
