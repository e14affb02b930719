"""`LocalIssuer`: an authorization server in a box, to test code that verifies access tokens.

Tokens are signed with joserfc, deliberately another JOSE implementation than the one
behind `TokenVerifier`: a bug shared by signer and verifier would make both agree, and
tests written with this kit would never see it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from joserfc import jws
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from .._algorithms import ALGORITHMS
from .._keys.static import HMACSecret, StaticKeys
from ._server import App, Request, Response, route, serve_in_thread

if TYPE_CHECKING:
    from .. import IntrospectionVerifier, TokenVerifier
    from ._dpop import DPoPKey

__all__ = ["LocalIssuer"]

_RSA_BITS = 2048
# RFC 6749 §5.1 and §5.2: token responses, errors included, must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _SigningRegistry(JWSRegistry):
    """joserfc's registry, loosened to build test tokens, odd ones included.

    Every algorithm of the verifier's table is allowed (joserfc's default allows three),
    headers are not checked (tests build tokens with unknown `crit` or extra members on
    purpose), and EdDSA signs without a `SecurityWarning`: RFC 9864 deprecates it in
    favour of "Ed25519", but it is the name that verifiers in the field accept.
    """

    def __init__(self) -> None:
        super().__init__(algorithms=sorted(ALGORITHMS), strict_check_header=False)
        quiet_eddsa = copy.copy(JWSRegistry.algorithms["EdDSA"])
        quiet_eddsa.security_warning = None
        self.algorithms = {**JWSRegistry.algorithms, "EdDSA": quiet_eddsa}

    def check_header(self, header: Mapping[str, Any]) -> None:
        """Accept any header."""


_REGISTRY = _SigningRegistry()


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    algorithm: str
    key: Key

    @classmethod
    def generate(cls, algorithm: str) -> _SigningKey:
        spec = ALGORITHMS[algorithm]
        key: Key
        if spec.kty == "RSA":
            key = RSAKey.generate_key(_RSA_BITS)
        elif spec.kty == "EC":
            key = ECKey.generate_key(spec.curve)
        elif spec.kty == "OKP":
            key = OKPKey.generate_key("Ed25519")
        else:  # RFC 7518 §3.2: a secret as long as the hash output
            key = OctKey.generate_key(spec.bits)
        return cls(secrets.token_hex(8), algorithm, key)

    def public_jwk(self) -> dict[str, Any]:
        # An oct key has no public half: its JWK is the secret itself.
        jwk = dict(self.key.as_dict(private=False))
        return {"kty": jwk.pop("kty"), "kid": self.kid, "use": "sig", "alg": self.algorithm, **jwk}


@dataclass(frozen=True)
class _Client:
    secret: str
    scopes: frozenset[str]


@dataclass
class _OpaqueToken:
    claims: dict[str, Any]
    active: bool = True


class LocalIssuer:
    """An OAuth 2.0 issuer for tests: signs access tokens and, on demand, serves them over HTTP.

    It holds a fresh key pair (or HMAC secret) with a random `kid`. Tokens come from
    `issue()`; a verifier that accepts them from `verifier()`; `serve()` publishes
    discovery metadata, the JWK Set, a client-credentials token endpoint and an RFC 7662
    introspection endpoint on a real HTTP server on 127.0.0.1. Opaque tokens come from
    `issue_opaque()` and are verified through that endpoint (`introspection_verifier()`).

    Example:
        ```python
        issuer = LocalIssuer()
        token = issuer.verifier().verify(issuer.issue(scopes=["orders:read"]))
        assert token.has_scopes("orders:read")
        ```

    Attributes:
        algorithm: The JWS `alg` of the tokens.
        issuer: The `iss` of the tokens; while `serve()` runs, the server's base URL.
        audience: The `aud` of the tokens; None leaves `aud` out.
        requests: How many requests the server received, by path (query excluded).
            Reset when `serve()` starts.
        available: False makes the server answer 503 to every request (see `outage()`).
        token_lifetime: Seconds that tokens from the token endpoint stay valid.
    """

    def __init__(
        self,
        algorithm: str = "RS256",
        issuer: str = "https://issuer.test/",
        audience: str | Sequence[str] | None = "api",
    ) -> None:
        """Create an issuer with a fresh key for `algorithm`.

        Args:
            algorithm: One of RS256/384/512, PS256/384/512, ES256/384/512, HS256/384/512
                and EdDSA (Ed25519).
            issuer: The `iss` claim.
            audience: The `aud` claim: one string, several, or None for no `aud`.

        Raises:
            ValueError: an unsupported algorithm.
        """
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported algorithm {algorithm!r}; one of {sorted(ALGORITHMS)}")
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.requests: Counter[str] = Counter()
        self.available = True
        self.token_lifetime = 300
        self._keys: tuple[_SigningKey, ...] = (_SigningKey.generate(algorithm),)
        self._clients: dict[str, _Client] = {}
        self._opaque: dict[str, _OpaqueToken] = {}
        self._lock = threading.Lock()
        self._base_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"LocalIssuer(algorithm={self.algorithm!r}, issuer={self.issuer!r}, kid={self.kid!r})"
        )

    @property
    def kid(self) -> str:
        """Return the `kid` of the key that signs new tokens."""
        return self._keys[-1].kid

    @property
    def is_symmetric(self) -> bool:
        """Return True for HS256/384/512 issuers, whose key is a shared secret."""
        return ALGORITHMS[self.algorithm].kty == "oct"

    @property
    def secret(self) -> bytes:
        """Return the current HMAC secret of an HS* issuer.

        Raises:
            AttributeError: the issuer signs with a private key, not a shared secret.
        """
        key = self._keys[-1].key
        if not isinstance(key, OctKey):
            raise AttributeError(f"a {self.algorithm} issuer has no shared secret")
        return key.raw_value

    @property
    def public_key_pem(self) -> str:
        """Return the current public key in PEM, as `StaticKeys.from_pem()` reads it.

        Raises:
            AttributeError: the issuer signs with a shared secret, which has no public half.
        """
        key = self._keys[-1].key
        if isinstance(key, OctKey):
            raise AttributeError(f"a {self.algorithm} issuer has no public key")
        return key.as_pem(private=False).decode()

    @property
    def jwks(self) -> dict[str, Any]:
        """Return the JWK Set (RFC 7517 §5) of every key still published.

        Each key has `kid`, `use` "sig" and `alg`. For an HS* issuer the set holds the
        secrets as `oct` keys: they are the application's own, never served over HTTP.
        """
        return {"keys": [key.public_jwk() for key in self._keys]}

    def key_source(self) -> StaticKeys:
        """Return a key source holding the keys of `jwks`.

        An HS* issuer with a single secret returns an `HMACSecret`.
        """
        if self.is_symmetric and len(self._keys) == 1:
            return HMACSecret(self.secret, kid=self.kid)
        return StaticKeys.from_jwks(self.jwks)

    def verifier(self, **options: Any) -> TokenVerifier:
        """Return a `TokenVerifier` that accepts this issuer's tokens.

        Args:
            **options: `TokenVerifier` keywords; they override `keys` (default:
                `key_source()`), `issuer` and `audience` (default: this issuer's).
        """
        from .. import TokenVerifier

        arguments = {
            "keys": self.key_source(),
            "issuer": self.issuer,
            "audience": self.audience,
            **options,
        }
        return TokenVerifier(**arguments)

    def rotate(self, *, keep_previous: bool = True) -> str:
        """Start signing with a new key; by default the previous keys stay published.

        Tokens issued before keep verifying while their key is in `jwks`, as after a
        key rollover at a real identity provider.

        Args:
            keep_previous: False drops the previous keys from `jwks` and `key_source()`.

        Returns:
            The `kid` of the new key.
        """
        new = _SigningKey.generate(self.algorithm)
        self._keys = (*self._keys, new) if keep_previous else (new,)
        return new.kid

    def issue(
        self,
        subject: str | None = "user",
        scopes: str | Iterable[str] = (),
        expires_in: int = 300,
        *,
        headers: Mapping[str, Any] | None = None,
        dpop_key: DPoPKey | None = None,
        **claims: Any,
    ) -> str:
        """Return a signed access token (JWS Compact Serialization, RFC 7515 §7.1).

        The claims are `iss`, `aud`, `sub`, `iat` (now), `exp` (now + `expires_in`), a random
        `jti` and `scope` (omitted when there are no scopes); `claims` add to them or replace
        them, and a claim given as None is left out (`exp=None` makes a token without `exp`).
        The header is `alg`, `kid` and `typ` "JWT"; `headers` works the same way on it
        (`headers={"typ": "at+jwt"}`, `headers={"kid": None}`).

        Args:
            subject: The `sub` claim; None leaves it out.
            scopes: The scopes, joined with spaces into `scope`; a string is taken as is.
            expires_in: Seconds until `exp`. Negative gives an expired token; mind the
                verifier's leeway (60 seconds by default).
            headers: Header members to add, replace (`alg` signs with another algorithm of
                the same key type) or, given as None, remove.
            dpop_key: Bind the token to this client key (RFC 9449 §6): `cnf.jkt` is its
                thumbprint, added to any `cnf` given in `claims`.
            **claims: Claims to add, replace or, given as None, remove.

        Raises:
            ValueError: `headers` removes `alg`.
        """
        default_claims = {"iss": self.issuer, **self._claims(subject, scopes, expires_in)}
        key = self._keys[-1]
        header = _without_none(
            {"alg": key.algorithm, "kid": key.kid, "typ": "JWT", **(headers or {})}
        )
        if "alg" not in header:
            raise ValueError("a signed token needs an alg header")
        claims = _bound(claims, dpop_key)
        payload = json.dumps(_without_none({**default_claims, **claims}), separators=(",", ":"))
        return jws.serialize_compact(header, payload.encode(), key.key, registry=_REGISTRY)

    def _claims(
        self, subject: str | None, scopes: str | Iterable[str], expires_in: int
    ) -> dict[str, Any]:
        """Return the claims every token has, signed or opaque (None: left out)."""
        now = int(time.time())
        audience = self.audience
        return {
            "aud": audience if isinstance(audience, str) or audience is None else list(audience),
            "sub": subject,
            "iat": now,
            "exp": now + expires_in,
            "jti": secrets.token_urlsafe(16),
            "scope": (scopes if isinstance(scopes, str) else " ".join(scopes)) or None,
        }

    def add_client(self, client_id: str, secret: str, *, scopes: Collection[str] = ()) -> None:
        """Register a client of the token endpoint (RFC 6749 §4.4, client credentials).

        Args:
            client_id: The client's id; it becomes the `sub` and `client_id` of its tokens.
            secret: The client's secret, sent by HTTP Basic or as the form's `client_secret`.
            scopes: The scopes the client may ask for; all of them when it asks for none.
        """
        self._clients[client_id] = _Client(secret, frozenset(scopes))

    def issue_opaque(
        self,
        subject: str | None = "user",
        scopes: str | Iterable[str] = (),
        expires_in: int = 300,
        *,
        dpop_key: DPoPKey | None = None,
        **claims: Any,
    ) -> str:
        """Return an opaque access token that only the introspection endpoint can read.

        The token is random; what it stands for is kept here and told by `serve()`'s
        introspection endpoint (RFC 7662 §2.2): the same claims `issue()` would sign, with
        `iss` read when the endpoint answers (so it is the server's URL while serving),
        plus `token_type` "Bearer" ("DPoP" for a DPoP-bound token, RFC 9449 §6.2). Once
        `exp` has passed, the endpoint calls it inactive.

        Args:
            subject: The `sub` claim; None leaves it out.
            scopes: The scopes, joined with spaces into `scope`; a string is taken as is.
            expires_in: Seconds until `exp`; negative gives a token already inactive.
            dpop_key: Bind the token to this client key: the endpoint tells its `cnf.jkt`.
            **claims: Claims to add, replace or, given as None, remove (`client_id="app"`).
        """
        details = {
            **self._claims(subject, scopes, expires_in),
            "token_type": "Bearer" if dpop_key is None else "DPoP",
            **_bound(claims, dpop_key),
        }
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._opaque[token] = _OpaqueToken(details)
        return token

    def revoke_opaque(self, token: str) -> None:
        """Make an opaque token inactive, as an RFC 7009 revocation request would.

        Raises:
            KeyError: `token` was not issued by `issue_opaque()`.
        """
        with self._lock:
            self._opaque[token].active = False

    def introspect(self, token: str) -> dict[str, Any]:
        """Return what the introspection endpoint answers about `token` (RFC 7662 §2.2).

        `{"active": true, ...claims}` for an opaque token of this issuer that is neither
        expired nor revoked; `{"active": false}` for anything else.
        """
        with self._lock:
            opaque = self._opaque.get(token)
        if opaque is None or not opaque.active:
            return {"active": False}
        exp = opaque.claims.get("exp")
        if isinstance(exp, int | float) and exp <= time.time():
            return {"active": False}
        claims = _without_none({"iss": self.issuer, **opaque.claims})
        return {"active": True, **claims}

    def introspection_verifier(
        self, client_id: str, client_secret: str, **options: Any
    ) -> IntrospectionVerifier:
        """Return an `IntrospectionVerifier` for this issuer's served introspection endpoint.

        Call it while `serve()` runs, for a client registered with `add_client()`.

        Args:
            client_id: The client the verifier authenticates as.
            client_secret: Its secret (client_secret_basic).
            **options: `IntrospectionVerifier` keywords; they override `issuer` and
                `audience` (default: this issuer's).

        Raises:
            RuntimeError: the issuer is not serving.
        """
        from .. import IntrospectionVerifier

        if self._base_url is None:
            raise RuntimeError("introspection_verifier() needs a running serve()")
        arguments = {"issuer": self.issuer, "audience": self.audience, **options}
        return IntrospectionVerifier(
            f"{self._base_url}/introspect",
            client_id=client_id,
            client_secret=client_secret,
            **arguments,
        )

    @contextmanager
    def outage(self) -> Iterator[None]:
        """Make the server answer 503 to every request while the context lasts."""
        previous, self.available = self.available, False
        try:
            yield
        finally:
            self.available = previous

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Run a real HTTP server on 127.0.0.1, on a free port, while the context lasts.

        It publishes:

        - `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`
          (RFC 8414): `issuer`, `jwks_uri`, `token_endpoint` and what the endpoint supports;
        - `/jwks.json`: `jwks`, live, so `rotate()` shows at once;
        - `POST /token`: the client-credentials grant for clients of `add_client()`,
          authenticated by HTTP Basic or form parameters (RFC 6749 §2.3.1);
        - `POST /introspect`: RFC 7662 introspection of `issue_opaque()` tokens (see
          `introspect()`), for clients of `add_client()` authenticated the same way.

        An HS* issuer never publishes its secret: its metadata has no `jwks_uri` and
        `/jwks.json` answers 404; verify its tokens with `key_source()`.

        While serving, `issuer` is the base URL, so `OIDCDiscovery(url)` finds a matching
        document; it is restored afterwards. The server runs in a daemon thread and stops,
        freeing its port, when the context exits.

        Yields:
            The base URL, `http://127.0.0.1:<port>`, without a trailing slash.

        Raises:
            RuntimeError: the issuer is already serving.
        """
        if self._base_url is not None:
            raise RuntimeError("this issuer is already serving")
        configured = self.issuer
        with self._lock:
            self.requests.clear()
        with serve_in_thread(self._app()) as url:
            self._base_url = self.issuer = url
            try:
                yield url
            finally:
                self._base_url = None
                self.issuer = configured

    def _app(self) -> App:
        routes: dict[tuple[str, str], App] = {
            ("GET", "/.well-known/openid-configuration"): self._metadata,
            ("GET", "/.well-known/oauth-authorization-server"): self._metadata,
            ("POST", "/token"): self._token_endpoint,
            ("POST", "/introspect"): self._introspection_endpoint,
        }
        if not self.is_symmetric:
            routes["GET", "/jwks.json"] = lambda _: Response.json(self.jwks)
        routed = route(routes)

        def app(request: Request) -> Response:
            with self._lock:
                self.requests[request.path] += 1
            if not self.available:
                return Response.json({"error": "temporarily_unavailable"}, 503)
            return routed(request)

        return app

    def _metadata(self, request: Request) -> Response:
        base = self._base_url
        metadata: dict[str, Any] = {
            "issuer": self.issuer,
            "token_endpoint": f"{base}/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint": f"{base}/introspect",
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "scopes_supported": sorted({s for c in self._clients.values() for s in c.scopes}),
        }
        if not self.is_symmetric:
            metadata["jwks_uri"] = f"{base}/jwks.json"
        return Response.json(metadata)

    def _token_endpoint(self, request: Request) -> Response:
        """Answer a token request of the client-credentials grant (RFC 6749 §4.4)."""
        client = self._client_request(request, "grant_type")
        if isinstance(client, Response):
            return client
        client_id, params = client
        if params["grant_type"] != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
        allowed = self._clients[client_id].scopes
        requested = set(params.get("scope", "").split())
        if not requested <= allowed:
            return _oauth_error(400, "invalid_scope", "a requested scope is not allowed")
        scopes = sorted(requested or allowed)
        raw = self.issue(client_id, scopes, self.token_lifetime, client_id=client_id)
        answer = {"access_token": raw, "token_type": "Bearer", "expires_in": self.token_lifetime}
        if scopes:
            answer["scope"] = " ".join(scopes)
        return Response.json(answer, headers=_NO_STORE)

    def _introspection_endpoint(self, request: Request) -> Response:
        """Answer an introspection request (RFC 7662 §2.1) from an authenticated client."""
        client = self._client_request(request, "token")
        if isinstance(client, Response):
            return client
        return Response.json(self.introspect(client[1]["token"]), headers=_NO_STORE)

    def _client_request(
        self, request: Request, required: str
    ) -> tuple[str, dict[str, str]] | Response:
        """Return the authenticated client's id and the form's parameters, or the error.

        The `required` parameter missing is an `invalid_request`, once the client is known.
        """
        form = request.form()
        if any(len(values) > 1 for values in form.values()):  # RFC 6749 §3.2
            return _oauth_error(400, "invalid_request", "a parameter was sent more than once")
        params = {name: values[0] for name, values in form.items()}
        client_id = self._authenticate(request.headers.get("Authorization"), params)
        if isinstance(client_id, Response):
            return client_id
        if required not in params:
            return _oauth_error(400, "invalid_request", f"{required} is missing")
        return client_id, params

    def _authenticate(self, authorization: str | None, params: Mapping[str, str]) -> str | Response:
        """Return the id of the authenticated client, or the error response (RFC 6749 §2.3.1)."""
        if authorization is not None:
            if "client_secret" in params:  # RFC 6749 §2.3: one method per request
                return _oauth_error(400, "invalid_request", "more than one authentication method")
            credentials = _basic_credentials(authorization)
            if credentials is None:
                return _oauth_error(401, "invalid_client", "malformed Basic credentials")
            client_id, secret = credentials
        else:
            client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            return _oauth_error(401, "invalid_client", "client authentication failed")
        return client_id


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """Return the client id and secret of an HTTP Basic header, or None when malformed."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    # RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _oauth_error(status: int, error: str, description: str) -> Response:
    """Return an error response of the token endpoint (RFC 6749 §5.2)."""
    headers = dict(_NO_STORE)
    if status == HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Basic realm="token"'
    body = {"error": error, "error_description": description}
    return Response.json(body, status, headers)


def _bound(claims: dict[str, Any], dpop_key: DPoPKey | None) -> dict[str, Any]:
    """Return `claims` with `cnf.jkt` of `dpop_key` added to any `cnf` they hold."""
    if dpop_key is None:
        return claims
    return {**claims, "cnf": {**(claims.get("cnf") or {}), **dpop_key.cnf}}


def _without_none(members: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}
