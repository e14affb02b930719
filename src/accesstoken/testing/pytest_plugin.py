"""pytest plugin of accesstoken, loaded through the `pytest11` entry point.

It offers one fixture, `token_issuer`; nothing else changes in a test run.
"""

from __future__ import annotations

import pytest

from ._issuer import LocalIssuer

__all__ = ["token_issuer"]


@pytest.fixture
def token_issuer() -> LocalIssuer:
    """Return a fresh `LocalIssuer` (RS256, issuer "https://issuer.test/", audience "api").

    Each test gets its own key, so no token leaks from one test into another.
    """
    return LocalIssuer()
