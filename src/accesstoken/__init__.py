"""accesstoken: verify OAuth 2.0 bearer access tokens in Python services."""

from __future__ import annotations

from ._keys.base import KeySet, KeySource, VerificationKey
from ._keys.static import HMACSecret, StaticKeys
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names

__all__ = sorted(["HMACSecret", "KeySet", "KeySource", "StaticKeys", "VerificationKey", *_error_names])
