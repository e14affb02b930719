"""ProtectedResource: the RFC 9728 document, its well-known path and every refused input."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import accesstoken
from accesstoken import MissingToken, ProtectedResource, TokenExpired

IDP = "https://idp.example.com/"


def resource(identifier: str = "https://api.example.com/mcp", **options: Any) -> ProtectedResource:
    options.setdefault("authorization_servers", [IDP])
    return ProtectedResource(identifier, **options)


def test_the_contract_example() -> None:
    found = ProtectedResource(
        "https://api.example.com/mcp",
        authorization_servers=["https://idp.example.com/"],
        scopes_supported=("orders:read", "orders:write"),
        resource_name="Orders",
    )
    assert found.metadata() == {
        "resource": "https://api.example.com/mcp",
        "authorization_servers": ["https://idp.example.com/"],
        "scopes_supported": ["orders:read", "orders:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Orders",
    }
    assert found.metadata_path == "/.well-known/oauth-protected-resource/mcp"
    assert found.metadata_url == "https://api.example.com/.well-known/oauth-protected-resource/mcp"
    assert found.resource == "https://api.example.com/mcp"
    assert found.authorization_servers == ("https://idp.example.com/",)
    assert found.scopes_supported == ("orders:read", "orders:write")
    assert accesstoken.ProtectedResource is ProtectedResource
    assert "authorization_servers=['https://idp.example.com/']" in repr(found)


@pytest.mark.parametrize(
    ("identifier", "path", "url"),
    [
        (
            "https://api.example.com",
            "/.well-known/oauth-protected-resource",
            "https://api.example.com/.well-known/oauth-protected-resource",
        ),
        # RFC 9728 §3.1: the slash that follows the host alone is dropped...
        (
            "https://api.example.com/",
            "/.well-known/oauth-protected-resource",
            "https://api.example.com/.well-known/oauth-protected-resource",
        ),
        # ...any other path is kept as written, a trailing slash included.
        (
            "https://api.example.com/mcp/",
            "/.well-known/oauth-protected-resource/mcp/",
            "https://api.example.com/.well-known/oauth-protected-resource/mcp/",
        ),
        (
            "https://api.example.com/tenants/a%2Fb/mcp",
            "/.well-known/oauth-protected-resource/tenants/a%2Fb/mcp",
            "https://api.example.com/.well-known/oauth-protected-resource/tenants/a%2Fb/mcp",
        ),
        (
            "https://api.example.com:8443/mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "https://api.example.com:8443/.well-known/oauth-protected-resource/mcp",
        ),
        (
            "http://127.0.0.1:8000/mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp",
        ),
        (
            "http://localhost/mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "http://localhost/.well-known/oauth-protected-resource/mcp",
        ),
        (
            "http://[::1]:8000/a/b",
            "/.well-known/oauth-protected-resource/a/b",
            "http://[::1]:8000/.well-known/oauth-protected-resource/a/b",
        ),
    ],
)
def test_the_well_known_part_goes_between_host_and_path(
    identifier: str, path: str, url: str
) -> None:
    found = resource(identifier)
    assert (found.metadata_path, found.metadata_url) == (path, url)
    # RFC 9728 §3.3: the document names the resource exactly as the client addressed it.
    assert found.metadata()["resource"] == identifier


@pytest.mark.parametrize(
    "identifier",
    [
        "http://api.example.com/mcp",  # plain http off loopback
        "http://127.0.0.1.example.com/mcp",
        "ftp://api.example.com/mcp",
        "/mcp",
        "api.example.com/mcp",
        "https://",
        "https:/api.example.com/mcp",
        "https://api.example.com/mcp#section",
        "https://api.example.com/mcp#",
        "https://api.example.com/mcp?tenant=a",
        "https://api.example.com/mcp?",
        "https://user:secret@api.example.com/mcp",
        "https://user@api.example.com/mcp",
        "https://api.example.com/./mcp",
        "https://api.example.com/a/../mcp",
        "https://api.example.com/..",
        "https://api.example.com/m cp",
        "https://api.example.com/mcp\r\nX-Injected: 1",
        'https://api.example.com/m"cp',
        "https://api.example.com/m\\cp",
        "https://api.example.com/é",
        "https://api.example.com/%zz",
        "https://api.example.com/a[b]",
        "",
    ],
)
def test_a_bad_resource_identifier_is_refused(identifier: str) -> None:
    with pytest.raises(ValueError, match="resource"):
        resource(identifier)


@pytest.mark.parametrize("identifier", [None, b"https://api.example.com/mcp", 1, ["https://a/"]])
def test_a_resource_identifier_is_a_string(identifier: Any) -> None:
    with pytest.raises(TypeError, match="resource"):
        resource(identifier)


@pytest.mark.parametrize(
    ("servers", "error"),
    [
        ([], ValueError),
        ((), ValueError),
        ([IDP, IDP], ValueError),
        (["http://idp.example.com/"], ValueError),
        (["https://idp.example.com/?tenant=a"], ValueError),
        (["https://idp.example.com/#x"], ValueError),
        (["idp.example.com"], ValueError),
        ([""], ValueError),
        (None, TypeError),
        (b"https://idp.example.com/", TypeError),
        ([b"https://idp.example.com/"], TypeError),
        ({"https://idp.example.com/": 1}, TypeError),
        ([1], TypeError),
    ],
)
def test_authorization_servers_are_issuers(servers: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="authorization_servers"):
        resource(authorization_servers=servers)


def test_authorization_servers_keep_their_order_and_one_string_is_one_server() -> None:
    both = resource(authorization_servers=["https://b.example/", "http://127.0.0.1:9/realm"])
    assert both.metadata()["authorization_servers"] == [
        "https://b.example/",
        "http://127.0.0.1:9/realm",
    ]
    assert resource(authorization_servers=IDP).authorization_servers == (IDP,)


@pytest.mark.parametrize(
    ("scopes", "error"),
    [
        ([], ValueError),
        ([""], ValueError),
        (["orders read"], ValueError),
        (['orders"read'], ValueError),
        (["orders\\read"], ValueError),
        (["ordérs"], ValueError),
        (["a", "a"], ValueError),
        ([1], TypeError),
        (b"orders:read", TypeError),
    ],
)
def test_scopes_supported_are_scope_tokens(scopes: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="scopes_supported"):
        resource(scopes_supported=scopes)


def test_scopes_supported_is_left_out_unless_given() -> None:
    assert "scopes_supported" not in resource().metadata()
    assert resource().scopes_supported is None
    assert resource(scopes_supported="mcp").metadata()["scopes_supported"] == ["mcp"]


def test_known_fields_are_checked_and_extensions_kept_as_json() -> None:
    found = resource(
        resource_name="Orders",
        resource_documentation="https://docs.example.com/orders",
        resource_policy_uri="https://example.com/policy",
        resource_tos_uri="https://example.com/tos",
        jwks_uri="https://api.example.com/jwks.json",
        resource_signing_alg_values_supported=("ES256",),
        authorization_details_types_supported=["payment_initiation"],
        tls_client_certificate_bound_access_tokens=True,
        signed_metadata="eyJ...",
        x_extension={"limits": (1, 2.5, None, True, "x")},
    )
    document = found.metadata()
    assert list(document)[:4] == [
        "resource",
        "authorization_servers",
        "bearer_methods_supported",
        "resource_name",
    ]
    assert document["resource_signing_alg_values_supported"] == ["ES256"]
    assert document["tls_client_certificate_bound_access_tokens"] is True
    assert document["x_extension"] == {"limits": [1, 2.5, None, True, "x"]}
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("resource_name", "", ValueError),
        ("resource_name", 5, TypeError),
        ("resource_documentation", "http://docs.example.com/", ValueError),
        ("resource_documentation", "docs", ValueError),
        ("jwks_uri", "http://api.example.com/jwks.json", ValueError),
        ("jwks_uri", None, TypeError),
        ("resource_signing_alg_values_supported", [], ValueError),
        ("resource_signing_alg_values_supported", "", ValueError),
        ("resource_signing_alg_values_supported", [1], TypeError),
        ("tls_client_certificate_bound_access_tokens", "yes", TypeError),
        ("tls_client_certificate_bound_access_tokens", 1, TypeError),
        ("dpop_bound_access_tokens_required", None, TypeError),
        ("signed_metadata", b"x", TypeError),
        ("x_extension", float("nan"), ValueError),
        ("x_extension", [float("inf")], ValueError),
        ("x_extension", {1: "a"}, TypeError),
        ("x_extension", {"a": {1, 2}}, TypeError),
        ("x_extension", b"bytes", TypeError),
        ("x_extension", object(), TypeError),
    ],
)
def test_a_bad_field_is_refused(field: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=field):
        resource(**{field: value})


def test_a_field_that_contains_itself_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        resource(x_extension=loop)
    shared = [1]  # the same list twice is not a loop
    assert resource(x_extension=[shared, shared]).metadata()["x_extension"] == [[1], [1]]


def test_the_core_fields_cannot_be_overridden() -> None:
    with pytest.raises(TypeError):
        resource(**{"resource": "https://other.example.com/"})
    with pytest.raises(ValueError, match="bearer_methods_supported"):
        resource(bearer_methods_supported=["header", "query"])
    with pytest.raises(ValueError, match="bearer_methods_supported"):
        resource(bearer_methods_supported=[])
    # Saying what is true anyway is allowed.
    same = resource(bearer_methods_supported=("header",))
    assert same.metadata()["bearer_methods_supported"] == ["header"]


def test_dpop_options_give_the_dpop_fields() -> None:
    dpop = SimpleNamespace(algorithms=("ES256", "EdDSA"), required=True)
    document = resource(dpop=dpop).metadata()
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert document["dpop_bound_access_tokens_required"] is True
    optional = resource(dpop=SimpleNamespace(algorithms=["ES256"], required=False)).metadata()
    assert optional["dpop_bound_access_tokens_required"] is False
    assert "dpop_signing_alg_values_supported" not in resource().metadata()


@pytest.mark.parametrize(
    ("dpop", "fields", "error"),
    [
        (SimpleNamespace(algorithms=("ES256",)), {}, TypeError),
        (object(), {}, TypeError),
        (SimpleNamespace(algorithms=(), required=False), {}, ValueError),
        (SimpleNamespace(algorithms=("ES256",), required="yes"), {}, TypeError),
        (
            SimpleNamespace(algorithms=("ES256",), required=False),
            {"dpop_bound_access_tokens_required": True},
            ValueError,
        ),
    ],
)
def test_bad_dpop_options_are_refused(
    dpop: object, fields: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match="dpop"):
        resource(dpop=dpop, **fields)


def test_the_dpop_fields_may_be_given_by_name_without_dpop() -> None:
    found = resource(dpop_signing_alg_values_supported=["ES256"])
    assert found.metadata()["dpop_signing_alg_values_supported"] == ["ES256"]


def test_metadata_is_a_fresh_copy_each_time() -> None:
    found = resource(scopes_supported=["a"], x_extension={"nested": [1]})
    first = found.metadata()
    first["scopes_supported"].append("admin")
    first["x_extension"]["nested"].append(2)
    first["resource"] = "https://evil.example/"
    assert (
        found.metadata() == resource(scopes_supported=["a"], x_extension={"nested": [1]}).metadata()
    )


def test_the_challenge_parameter_and_the_challenges_it_joins() -> None:
    found = resource("https://api.example.com/mcp")
    url = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
    assert found.challenge_parameter == f'resource_metadata="{url}"'
    missing = MissingToken().www_authenticate()
    assert found.add_to_challenge(missing) == f'Bearer resource_metadata="{url}"'
    expired = TokenExpired().www_authenticate(realm="orders")
    assert found.add_to_challenge(expired) == f'{expired}, resource_metadata="{url}"'


# Hypothesis: whatever the input, a bad identifier is a ValueError or TypeError, and a good
# one gives a metadata URL on its own origin whose path ends with its own path.
_SEGMENT = st.one_of(
    st.sampled_from(
        ["mcp", "", ".", "..", "%2F", "%zz", "a b", "é", "?", "#", "[", "\\", '"', "@"]
    ),
    st.text(alphabet="abc-._~!$&'()*+,;=:@%/?#", max_size=6),
)
_URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, port, segments: (
            scheme + host + port + "".join("/" + s for s in segments)
        ),
        st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "https:", ""]),
        st.sampled_from(["api.example.com", "127.0.0.1", "[::1]", "localhost", "", "u@h", "%41"]),
        st.sampled_from(["", ":8443", ":", ":99999"]),
        st.lists(_SEGMENT, max_size=4),
    ),
)


@given(st.one_of(_URLISH, st.none(), st.integers(), st.binary(max_size=20)))
@example("https://api.example.com:99999/mcp")
@example("http://[::1/mcp")
@example("https://[]/")
@example("https://%/")
def test_any_input_is_accepted_or_refused_with_value_or_type_error(identifier: Any) -> None:
    try:
        found = resource(identifier)
    except (ValueError, TypeError):
        return
    assert found.metadata()["resource"] == identifier
    origin, _, rest = identifier.partition("://")
    host_and_path = rest.partition("/")
    assert found.metadata_url.startswith(f"{origin}://{host_and_path[0]}/.well-known/")
    path = "/" + host_and_path[2] if host_and_path[1] else ""
    expected = "/.well-known/oauth-protected-resource" + ("" if path == "/" else path)
    assert found.metadata_path == expected
    assert found.metadata_url.endswith(expected)
    assert not set(found.metadata_url) & set('"\\ ')
