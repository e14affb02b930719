"""Fixtures of the adapter tests: one token per outcome, a working and a failing verifier."""

from __future__ import annotations

import pytest

from accesstoken import HMACSecret, TokenVerifier

# Before any test module imports DRF, which reads Django's settings as it loads.
from . import _django  # noqa: F401
from ._support import AUDIENCE, ISSUER, SECRET, Tokens, UnreachableKeys, mint, tamper


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    reader = mint()
    return Tokens(
        reader=reader,
        admin=mint(roles=("admin",)),
        no_scope=mint(scope=None),
        expired=mint(expires_in=-3600),
        wrong_audience=mint(aud="billing-api"),
        wrong_key=mint(secret=b"another-secret-of-at-least-32-bytes"),
        tampered=tamper(reader),
    )


@pytest.fixture(scope="session")
def verifier() -> TokenVerifier:
    return TokenVerifier(HMACSecret(SECRET), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def down_verifier() -> TokenVerifier:
    return TokenVerifier(UnreachableKeys(), issuer=ISSUER, audience=AUDIENCE)
