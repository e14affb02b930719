"""A testing kit: `LocalIssuer` signs access tokens and serves an identity provider locally.

`DPoPKey` is a client's DPoP key: bound tokens come from `LocalIssuer.issue(dpop_key=...)`,
the proofs that go with them from `DPoPKey.proof()`.

The pytest plugin (`accesstoken.testing.pytest_plugin`, registered as an entry point)
offers the `token_issuer` fixture; importing this package never imports pytest.
"""

from __future__ import annotations

from ._dpop import DPoPKey
from ._issuer import LocalIssuer

__all__ = ["DPoPKey", "LocalIssuer"]
