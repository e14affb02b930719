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

from . import errors
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
from .errors import *  # noqa: F403 - every error, named once: in errors.__all__

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "DPoP",
    "HMACSecret",
    "IntrospectionVerifier",
    "JWKSEndpoint",
    "KeySet",
    "KeySource",
    "MultiIssuerVerifier",
    "OIDCDiscovery",
    "ProtectedResource",
    "RequestContext",
    "RevocationCheck",
    "StaticKeys",
    "TokenRouter",
    "TokenUser",
    "TokenVerifier",
    "VerificationKey",
    "Verifier",
]
__all__ += errors.__all__
__all__.sort()

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("accesstoken."):
        _obj.__module__ = "accesstoken"
del _name, _obj
