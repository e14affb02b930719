"""A testing kit: `LocalIssuer` signs access tokens and serves an identity provider locally.

The pytest plugin (`accesstoken.testing.pytest_plugin`, registered as an entry point)
offers the `token_issuer` fixture; importing this package never imports pytest.
"""

from __future__ import annotations

from ._issuer import LocalIssuer

__all__ = ["LocalIssuer"]
