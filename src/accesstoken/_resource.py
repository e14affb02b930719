"""`ProtectedResource`: a resource server's RFC 9728 metadata, checked once.

A client refused with 401 needs to learn which authorization server issues tokens for the
resource it called. RFC 9728 answers with a JSON document (§2) served at a URL derived
from the resource identifier (§3.1: the well-known part goes between the host and the
path) and named in the challenge by `resource_metadata` (§5.1). MCP clients start every
authorization there.

Everything a client will trust is checked at construction, so a typo fails at start-up
rather than sending clients to the wrong place: the identifier is an `https` URL (plain
`http` only on a loopback host, the rule of `_remote.fetch.check_url`) with no fragment,
query, credentials or dot segments; each authorization server is an issuer that could be
discovered (`check_issuer`); every other field is JSON, and the known RFC 9728 fields have
their registered types. The document is frozen: `metadata()` returns a fresh copy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from ._keys.discovery import check_issuer
from ._remote.fetch import check_url

__all__ = ["ProtectedResource"]

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"

# The resource identifier as written: "scheme://authority" then the path, which holds only
# RFC 3986 §3.3 pchars ("?" and "#" are refused before this is tried).
_IDENTIFIER: Final = re.compile(
    r"(?P<origin>[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9\-._~!$&'()*+,;=:@\[\]%]+)"
    r"(?P<path>(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*)"
)
# RFC 6749 §3.3: scope-token = 1*NQCHAR.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_HEADER_ONLY: Final = ("header",)
_DPOP_FIELDS: Final = ("dpop_signing_alg_values_supported", "dpop_bound_access_tokens_required")


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _checked(check: Callable[[str], str], value: object, name: str) -> str:
    """Return `value` if it is a string that `check` accepts; its refusal names `name`."""
    try:
        return check(_string(value, name))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _url(value: object, name: str) -> str:
    return _checked(check_url, value, name)


def _issuer(value: object, name: str) -> str:
    return _checked(check_issuer, value, name)


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False")
    return value


def _strings(
    value: object, name: str, check: Callable[[object, str], str] = _string
) -> tuple[str, ...]:
    """Return one string or a collection of strings as a tuple, in order, each checked.

    Raises:
        TypeError: not a string or a collection of strings.
        ValueError: empty, a duplicate, or an item that `check` refuses.
    """
    items: tuple[object, ...]
    if isinstance(value, str):
        items = (value,)
    elif isinstance(value, Collection) and not isinstance(value, bytes | bytearray | Mapping):
        items = tuple(value)
    else:
        raise TypeError(f"{name} must be a string or a collection of strings")
    checked = tuple(check(item, name) for item in items)
    if not checked:
        raise ValueError(f"{name} must not be empty")
    if len(set(checked)) != len(checked):
        raise ValueError(f"{name} lists a value twice")
    return checked


def _scope(value: object, name: str) -> str:
    if not _SCOPE_TOKEN.fullmatch(_string(value, name)):
        raise ValueError(f"{name}: a scope is printable ASCII without space, quote or backslash")
    return str(value)


# RFC 9728 §2's fields beyond the three given by name, with the type each must have. Any
# other name is an extension (§2 allows them) and only has to be JSON.
_KNOWN: Final[Mapping[str, Callable[[object, str], object]]] = {
    "jwks_uri": _url,
    "resource_name": _string,
    "resource_documentation": _url,
    "resource_policy_uri": _url,
    "resource_tos_uri": _url,
    "resource_signing_alg_values_supported": _strings,
    "authorization_details_types_supported": _strings,
    "tls_client_certificate_bound_access_tokens": _boolean,
    "dpop_signing_alg_values_supported": _strings,
    "dpop_bound_access_tokens_required": _boolean,
    "signed_metadata": _string,
}


def _json(value: object, name: str, path: tuple[int, ...] = ()) -> Any:
    """Return `value` as plain JSON data (tuples become lists), or raise.

    Raises:
        TypeError: a value JSON has no form for, or an object key that is not a string.
        ValueError: NaN or an infinity (not JSON numbers), or a container inside itself.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: NaN and infinities are not JSON numbers")
        return value
    if id(value) in path:
        raise ValueError(f"{name} contains itself")
    inner = (*path, id(value))
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{name}: JSON object keys must be strings")
        return {key: _json(item, name, inner) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item, name, inner) for item in value]
    raise TypeError(f"{name}: a {type(value).__name__} has no JSON form")


def split_identifier(resource: object) -> tuple[str, str]:
    """Return the origin and the path of a resource identifier, both as written.

    Raises:
        TypeError: `resource` is not a string.
        ValueError: not an https (or loopback http) URL; or it has a fragment, a query,
            credentials, a dot segment, or characters outside RFC 3986.
    """
    resource = _url(resource, "resource")
    if "#" in resource:
        raise ValueError("resource: an identifier has no fragment (RFC 9728 §1.2)")
    if "?" in resource:
        # RFC 9728 §1.2 discourages a query; refusing it keeps the metadata at a path.
        raise ValueError("resource: an identifier has no query here (RFC 9728 §1.2)")
    found = _IDENTIFIER.fullmatch(resource)
    if found is None:
        raise ValueError("resource: only RFC 3986 characters, others percent-encoded")
    origin, path = found["origin"], found["path"]
    if "@" in origin:
        raise ValueError("resource: an identifier carries no user name or password")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError('resource: no "." or ".." path segments (RFC 3986 §6.2.2.3)')
    return origin, path


class ProtectedResource:
    """A protected resource's identity and its RFC 9728 metadata document.

    Example:
        ```python
        from accesstoken import ProtectedResource

        resource = ProtectedResource(
            "https://api.example.com/mcp",
            authorization_servers=["https://idp.example.com/"],
            scopes_supported=("orders:read", "orders:write"),
            resource_name="Orders",
        )
        assert resource.metadata_path == "/.well-known/oauth-protected-resource/mcp"
        assert resource.metadata()["bearer_methods_supported"] == ["header"]
        ```
    """

    __slots__ = (
        "_authorization_servers",
        "_document",
        "_metadata_path",
        "_metadata_url",
        "_resource",
        "_scopes_supported",
    )

    def __init__(
        self,
        resource: str,
        *,
        authorization_servers: str | Collection[str],
        scopes_supported: str | Collection[str] | None = None,
        dpop: object = None,
        **fields: Any,
    ) -> None:
        """Check every field once and build the document.

        Args:
            resource: the resource identifier (RFC 8707, RFC 9728 §1.2), exactly as clients
                address it and as tokens name it in `aud`: an `https` URL (`http` only on
                a loopback host) with no fragment, query, credentials or dot segments.
            authorization_servers: issuer URLs of the authorization servers whose tokens
                the resource accepts (RFC 8414 issuers: https, no query or fragment).
            scopes_supported: the scopes clients may request for this resource.
            dpop: an object with `algorithms` (the DPoP proof algorithms accepted) and
                `required` (True when every token must be DPoP-bound), such as the
                `DPoP` options of a verifier; it gives `dpop_signing_alg_values_supported`
                and `dpop_bound_access_tokens_required` (RFC 9728 §2).
            **fields: any other RFC 9728 field (`resource_name="Orders"`,
                `resource_documentation=...`, `jwks_uri=...`) or extension, as JSON.

        Raises:
            TypeError: a value of the wrong type, or one that has no JSON form.
            ValueError: a URL or scope that breaks the rules above; no authorization
                server; `bearer_methods_supported` other than `["header"]` (the adapters
                read the token from the `Authorization` header only); a DPoP field given
                both through `dpop` and by name.
        """
        origin, path = split_identifier(resource)
        servers = _strings(authorization_servers, "authorization_servers", _issuer)
        scopes = (
            None
            if scopes_supported is None
            else _strings(scopes_supported, "scopes_supported", _scope)
        )
        document: dict[str, Any] = {"resource": resource, "authorization_servers": list(servers)}
        if scopes is not None:
            document["scopes_supported"] = list(scopes)
        document["bearer_methods_supported"] = list(_HEADER_ONLY)
        bearer_methods = fields.pop("bearer_methods_supported", _HEADER_ONLY)
        if _json(bearer_methods, "bearer_methods_supported") != list(_HEADER_ONLY):
            raise ValueError(
                'bearer_methods_supported can only be ["header"]: tokens are read from the '
                "Authorization header alone (RFC 6750 §2.1)"
            )
        if dpop is not None:
            clash = [name for name in _DPOP_FIELDS if name in fields]
            if clash:
                raise ValueError(f"{clash[0]} comes from dpop=; do not give it by name too")
            document.update(_dpop_fields(dpop))
        for name, value in fields.items():
            known = _KNOWN.get(name)
            document[name] = _json(value if known is None else known(value, name), name)

        self._resource = resource
        self._authorization_servers = servers
        self._scopes_supported = scopes
        # RFC 9728 §3.1: a path of "/" alone is dropped, any other path is kept as written.
        self._metadata_path = WELL_KNOWN + ("" if path == "/" else path)
        self._metadata_url = origin + self._metadata_path
        self._document = json.dumps(document, ensure_ascii=False, allow_nan=False)

    @property
    def resource(self) -> str:
        """Return the resource identifier, as given."""
        return self._resource

    @property
    def authorization_servers(self) -> tuple[str, ...]:
        """Return the issuer URLs of the authorization servers, in the order given."""
        return self._authorization_servers

    @property
    def scopes_supported(self) -> tuple[str, ...] | None:
        """Return the scopes given, in order, or None."""
        return self._scopes_supported

    @property
    def metadata_path(self) -> str:
        """Return the path of the metadata document (RFC 9728 §3.1).

        `/.well-known/oauth-protected-resource` followed by the resource's path:
        `https://api.example.com/mcp` gives `/.well-known/oauth-protected-resource/mcp`;
        a resource without a path, or with `/` alone, gives the well-known path alone.
        """
        return self._metadata_path

    @property
    def metadata_url(self) -> str:
        """Return the URL of the metadata document: the resource's origin, then `metadata_path`."""
        return self._metadata_url

    @property
    def challenge_parameter(self) -> str:
        """Return the `resource_metadata="<metadata_url>"` parameter of a challenge (RFC 9728 §5.1).

        The URL holds only RFC 3986 characters, none of which needs escaping in a
        quoted-string.
        """
        return f'resource_metadata="{self._metadata_url}"'

    def add_to_challenge(self, challenge: str) -> str:
        """Return one `WWW-Authenticate` challenge with `challenge_parameter` added last.

        `Bearer` gives `Bearer resource_metadata="..."`; `Bearer error="invalid_token"`
        gives `Bearer error="invalid_token", resource_metadata="..."`.
        """
        separator = ", " if " " in challenge.strip() else " "
        return challenge.rstrip() + separator + self.challenge_parameter

    def metadata(self) -> dict[str, Any]:
        """Return the metadata document (RFC 9728 §2), a new dict on each call.

        Its members: `resource`, `authorization_servers`, `scopes_supported` (when
        given), `bearer_methods_supported` (`["header"]`), the DPoP fields (with `dpop`),
        then the other fields in the order given. Serve it as `application/json` at
        `metadata_path`, without authentication.
        """
        document: dict[str, Any] = json.loads(self._document)
        return document

    def __repr__(self) -> str:
        return (
            f"ProtectedResource({self._resource!r}, "
            f"authorization_servers={list(self._authorization_servers)!r})"
        )


def _dpop_fields(dpop: object) -> dict[str, Any]:
    """Return the RFC 9728 DPoP fields from an object with `algorithms` and `required`."""
    try:
        algorithms, required = dpop.algorithms, dpop.required  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError("dpop must have algorithms and required, as DPoP options do") from None
    return {
        "dpop_signing_alg_values_supported": list(
            _strings(algorithms, "dpop_signing_alg_values_supported")
        ),
        "dpop_bound_access_tokens_required": _boolean(
            required, "dpop_bound_access_tokens_required"
        ),
    }
