"""OIDCDiscovery against a real HTTP server: issuer check, fallbacks, and the JWK Set behind it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from accesstoken import KeySourceUnavailable
from accesstoken._keys.discovery import OIDCDiscovery, discovery_urls, fetch_metadata
from accesstoken._remote.fetch import HTTP
from accesstoken._remote.flow import run

from ._server import Reply, Server
from .conftest import Caller, FakeClock, kids

OIDC = "/.well-known/openid-configuration"
OAUTH = "/.well-known/oauth-authorization-server"


def publish(server: Server, path: str, issuer: str, jwk: dict[str, Any]) -> None:
    jwks_uri = server.route("/keys", Reply({"keys": [jwk]}))
    server.route(path, Reply({"issuer": issuer, "jwks_uri": jwks_uri, "token_endpoint": "x"}))


def test_discovery_then_keys(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    publish(server, OIDC, server.url, ec_jwk)
    source = OIDCDiscovery(server.url, clock=clock)
    assert server.count(OIDC) == 0  # lazy
    assert kids(caller.key_set(source)) == {"ec-1"}
    caller.key_set(source)
    assert (server.count(OIDC), server.count("/keys")) == (1, 1)
    assert source.metadata()["token_endpoint"] == "x"
    with pytest.raises(TypeError):
        source.metadata()["issuer"] = "https://evil.example"  # type: ignore[index]


def test_trailing_slash_issuer(server: Server, clock: FakeClock, ec_jwk: dict[str, Any]) -> None:
    issuer = server.url + "/"
    publish(server, OIDC, issuer, ec_jwk)
    assert kids(OIDCDiscovery(issuer, clock=clock).key_set()) == {"ec-1"}
    assert server.count(OIDC) == 1


def test_issuer_mismatch_is_unavailable(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    publish(server, OIDC, server.url + "/", ec_jwk)  # differs by its trailing slash
    source = OIDCDiscovery(server.url, clock=clock)
    with pytest.raises(KeySourceUnavailable, match="another issuer"):
        caller.key_set(source)
    assert server.count("/keys") == 0


def test_fallback_to_oauth_authorization_server(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    publish(server, OAUTH, server.url, ec_jwk)
    source = OIDCDiscovery(server.url, clock=clock)
    assert kids(caller.key_set(source)) == {"ec-1"}
    assert (server.count(OIDC), server.count(OAUTH)) == (1, 1)


def test_issuer_with_a_path_uses_the_rfc_8414_form(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    issuer = server.url + "/tenant"
    publish(server, OAUTH + "/tenant", issuer, ec_jwk)
    assert kids(OIDCDiscovery(issuer, clock=clock).key_set()) == {"ec-1"}
    assert server.count("/tenant" + OIDC) == 1


def test_discovery_urls() -> None:
    assert discovery_urls("https://idp.example/") == [
        "https://idp.example/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server",
    ]
    assert discovery_urls("https://idp.example/t%20a/") == [
        "https://idp.example/t%20a/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server/t%20a",
        "https://idp.example/t%20a/.well-known/oauth-authorization-server",
    ]


def test_jwks_uri_must_follow_the_url_rule(server: Server, clock: FakeClock) -> None:
    server.route(OIDC, Reply({"issuer": server.url, "jwks_uri": "http://idp.example/keys"}))
    with pytest.raises(KeySourceUnavailable, match="metadata is unusable"):
        OIDCDiscovery(server.url, clock=clock).key_set()


def test_failed_discovery_is_retried_once_per_min_refresh_interval(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    source = OIDCDiscovery(server.url, clock=clock, min_refresh_interval=30)
    for _ in range(10):
        with pytest.raises(KeySourceUnavailable):
            caller.key_set(source)
        with pytest.raises(KeySourceUnavailable):
            caller.refresh(source)
    assert server.count(OIDC) == 1  # both 404, tried once
    publish(server, OIDC, server.url, ec_jwk)
    clock.advance(30)
    assert kids(caller.key_set(source)) == {"ec-1"}
    assert server.count(OIDC) == 2


def test_keys_behind_discovery_refresh_like_a_jwks_endpoint(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any], ec_jwk_2: dict[str, Any]
) -> None:
    publish(server, OIDC, server.url, ec_jwk)
    source = OIDCDiscovery(server.url, clock=clock, min_refresh_interval=10, cache_ttl=60)
    source.key_set()
    server.route("/keys", Reply({"keys": [ec_jwk, ec_jwk_2]}))
    assert source.refresh() is None  # inside the cooldown
    clock.advance(10)
    refreshed = source.refresh()
    assert refreshed is not None
    assert kids(refreshed) == {"ec-1", "ec-2"}
    clock.advance(60)
    source.key_set()
    assert (server.count(OIDC), server.count("/keys")) == (1, 3)


def test_100_tasks_make_one_discovery_request(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    publish(server, OIDC, server.url, ec_jwk)
    server.routes[OIDC].delay = 0.2
    source = OIDCDiscovery(server.url, clock=clock)

    async def main() -> list[Any]:
        return await asyncio.gather(*(source.key_set_async() for _ in range(100)))

    assert len({id(key_set) for key_set in asyncio.run(main())}) == 1
    assert (server.count(OIDC), server.count("/keys")) == (1, 1)


def test_fetch_metadata_for_other_clients(server: Server, ec_jwk: dict[str, Any]) -> None:
    server.route(OIDC, Reply({"issuer": server.url, "introspection_endpoint": "https://i/x"}))
    metadata = run(fetch_metadata(HTTP(timeout=2), server.url))
    assert metadata["introspection_endpoint"] == "https://i/x"


@pytest.mark.parametrize(
    "issuer",
    ["http://idp.example.com", "https://idp.example.com/?tenant=1", "https://idp.example.com/#x"],
)
def test_bad_issuers_are_refused(issuer: str) -> None:
    with pytest.raises(ValueError, match=r"URL|issuer"):
        OIDCDiscovery(issuer)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="cache_ttl"):
        OIDCDiscovery("https://idp.example.com", cache_ttl=0)
    with pytest.raises(TypeError, match="clock"):
        OIDCDiscovery("https://idp.example.com", clock=5)  # type: ignore[arg-type]


def test_key_set_nowait_answers_only_a_fresh_set(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    publish(server, OIDC, server.url, ec_jwk)
    source = OIDCDiscovery(server.url, clock=clock, cache_ttl=60, min_refresh_interval=1)
    assert source.key_set_nowait() is None  # cold: it never fetches
    assert server.count(OIDC) == 0
    fetched = source.key_set()
    assert source.key_set_nowait() is fetched
    clock.advance(61)
    assert source.key_set_nowait() is None  # expired: the verifier must ask key_set()
    assert server.count("/keys") == 1
