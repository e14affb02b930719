"""accesstoken: verify OAuth 2.0 bearer access tokens in Python services.

```python
from accesstoken import JWKSEndpoint, TokenVerifier

verifier = TokenVerifier(
    keys=JWKSEndpoint("https://idp.example.com/.well-known/jwks.json"),
    issuer="https://idp.example.com/",
    audience="orders-api",
)
token = verifier.verify(raw, scopes=("orders:read",))
```
"""

from __future__ import annotations

from ._dpop import DPoP, RequestContext
from ._introspection import IntrospectionVerifier
from ._keys.base import KeySet, KeySource, VerificationKey
from ._keys.discovery import OIDCDiscovery
from ._keys.jwks import JWKSEndpoint
from ._keys.static import HMACSecret, StaticKeys
from ._multi import MultiIssuerVerifier
from ._resource import ProtectedResource
from ._revocation import RevocationCheck
from ._router import TokenRouter
from ._token import AccessToken
from ._user import TokenUser
from ._verifier import TokenVerifier, Verifier
from .errors import (
    AccessTokenError,
    DisallowedAlgorithm,
    Forbidden,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidAudience,
    InvalidClaim,
    InvalidDPoPProof,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    InvalidTokenType,
    KeySourceError,
    KeySourceUnavailable,
    MalformedToken,
    MissingClaim,
    MissingToken,
    RevocationUnavailable,
    TokenError,
    TokenExpired,
    TokenInactive,
    TokenNotYetValid,
    TokenRevoked,
    UnknownKey,
)

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AccessTokenError",
    "DPoP",
    "DisallowedAlgorithm",
    "Forbidden",
    "HMACSecret",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectionVerifier",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidDPoPProof",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "InvalidTokenType",
    "JWKSEndpoint",
    "KeySet",
    "KeySource",
    "KeySourceError",
    "KeySourceUnavailable",
    "MalformedToken",
    "MissingClaim",
    "MissingToken",
    "MultiIssuerVerifier",
    "OIDCDiscovery",
    "ProtectedResource",
    "RequestContext",
    "RevocationCheck",
    "RevocationUnavailable",
    "StaticKeys",
    "TokenError",
    "TokenExpired",
    "TokenInactive",
    "TokenNotYetValid",
    "TokenRevoked",
    "TokenRouter",
    "TokenUser",
    "TokenVerifier",
    "UnknownKey",
    "VerificationKey",
    "Verifier",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("accesstoken."):
        _obj.__module__ = "accesstoken"
del _name, _obj
