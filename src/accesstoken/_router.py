"""`TokenRouter`: one `Verifier` for services that receive both JWTs and opaque tokens.

Many identity providers issue JWT access tokens to some clients and opaque ones to others
(or are migrating between the two). The router looks at the token's shape only, never at
its content: a compact JWS (or JWE) starts with a base64url JSON object, so `eyJ`, and has
two (four) dots. Such tokens go to the JWT verifier, which checks them in full; everything
else goes to introspection. A token cannot pick its verifier by claiming something: an
opaque token shaped like a JWT is refused by the JWT verifier, not introspected.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from ._bearer import split_scheme
from ._observed import Context, ObservedVerifier, unobserved
from ._token import AccessToken
from ._verifier import Verifier

__all__ = ["TokenRouter", "looks_like_jwt"]

_JSON_OBJECT: Final = "eyJ"  # base64url of '{"'


def looks_like_jwt(raw: str | bytes) -> bool:
    """Return whether `raw` (with or without "Bearer ") has the shape of a compact JWS or JWE."""
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes | bytearray) else raw
    if not isinstance(text, str):
        return True  # let the JWT verifier refuse what is not a token at all
    text = split_scheme(text)[1]
    return text.startswith(_JSON_OBJECT) and text.count(".") in (2, 4)


class TokenRouter(ObservedVerifier):
    """Sends JWT-shaped tokens to `jwt` and the others to `opaque`; a `Verifier` itself.

    Example:
        ```python
        verifier = TokenRouter(
            jwt=TokenVerifier(OIDCDiscovery(issuer), issuer=issuer, audience="orders-api"),
            opaque=IntrospectionVerifier.from_discovery(
                issuer, audience="orders-api", client_id="orders-api", client_secret=secret
            ),
        )
        app = AccessTokenMiddleware(app, verifier)
        ```

    Args:
        jwt: the verifier of JWS-shaped tokens, usually a `TokenVerifier`.
        opaque: the verifier of every other token, usually an `IntrospectionVerifier`.
            With only one of them given, every token goes to that one.

    Raises:
        TypeError: neither is given, or one is not a `Verifier`.
    """

    def __init__(self, *, jwt: Verifier | None = None, opaque: Verifier | None = None) -> None:
        for name, verifier in (("jwt", jwt), ("opaque", opaque)):
            if verifier is not None and not isinstance(verifier, Verifier):
                raise TypeError(f"{name} must have verify() and verify_async()")
        if jwt is None and opaque is None:
            raise TypeError("TokenRouter needs a jwt verifier, an opaque one, or both")
        self._jwt = jwt
        self._opaque = opaque
        # Each shape's verifier, called without its own events: the router reports the call.
        either = jwt if jwt is not None else opaque
        self._for_jwt = unobserved(either)
        self._for_opaque = unobserved(opaque if opaque is not None else either)

    def _verify(self, raw: str | bytes, scopes: Collection[str], context: Context) -> AccessToken:
        """Return the token verified by the verifier its shape selects.

        Raises:
            TokenError, KeySourceError: as the chosen verifier raises them.
        """
        route = self._for_jwt if looks_like_jwt(raw) else self._for_opaque
        return route[0](raw, scopes, context)

    async def _verify_async(
        self, raw: str | bytes, scopes: Collection[str], context: Context
    ) -> AccessToken:
        """Return the token verified by the selected verifier, without blocking the loop."""
        route = self._for_jwt if looks_like_jwt(raw) else self._for_opaque
        return await route[1](raw, scopes, context)

    def __repr__(self) -> str:
        return f"TokenRouter(jwt={self._jwt!r}, opaque={self._opaque!r})"
