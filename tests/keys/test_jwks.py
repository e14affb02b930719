"""JWKSEndpoint against a real HTTP server on 127.0.0.1: caching, refresh, failures, concurrency."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme

from accesstoken import KeySourceUnavailable
from accesstoken._keys.jwks import JWKSEndpoint

from ._server import Reply, Server, serve
from .conftest import Caller, FakeClock, kids

PATH = "/jwks.json"


def endpoint(server: Server, clock: FakeClock, **options: Any) -> JWKSEndpoint:
    return JWKSEndpoint(server.url + PATH, clock=clock, **options)


# -- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example.com/jwks",
        "http://localhost:8080/jwks",
        "http://127.0.0.1/jwks",
        "http://127.8.9.10:1/jwks",
        "http://[::1]:8000/jwks",
    ],
)
def test_https_and_loopback_urls_are_accepted(url: str) -> None:
    assert JWKSEndpoint(url).url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/jwks",
        "http://10.0.0.1/jwks",
        "http://localhost.evil.example/jwks",
        "ftp://localhost/jwks",
        "file:///etc/jwks.json",
        "/jwks.json",
        "https://",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        JWKSEndpoint(url)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": float("inf")},
        {"cache_ttl": 0},
        {"min_refresh_interval": -1},
        {"max_stale": -1},
        {"max_response_bytes": 0},
    ],
)
def test_bad_options_are_value_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        JWKSEndpoint("https://idp.example.com/jwks", **options)


def test_wrong_client_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="http_client"):
        JWKSEndpoint("https://idp.example.com/jwks", http_client=httpx.AsyncClient())  # type: ignore[arg-type]


def test_small_values_are_valid() -> None:
    source = JWKSEndpoint(
        "https://idp.example.com/jwks", cache_ttl=1, min_refresh_interval=1, timeout=0.5
    )
    assert "idp.example.com" in repr(source)


# -- caching -----------------------------------------------------------------------------


def test_fetched_lazily_then_cached_for_cache_ttl(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = endpoint(server, clock, cache_ttl=60)
    assert server.count(PATH) == 0
    assert kids(caller.key_set(source)) == {"ec-1"}
    clock.advance(53.9)  # refresh_jitter (0.1) may end the lifetime up to 10 % early
    caller.key_set(source)
    assert server.count(PATH) == 1
    clock.advance(6.1)
    caller.key_set(source)
    assert server.count(PATH) == 2


def test_cache_control_max_age_overrides_cache_ttl(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, headers={"Cache-Control": "max-age=600"}))
    source = endpoint(server, clock, cache_ttl=60)
    source.key_set()
    clock.advance(539)  # 600 less up to 10 % of jitter
    source.key_set()
    assert server.count(PATH) == 1
    clock.advance(61)
    source.key_set()
    assert server.count(PATH) == 2


def test_tiny_max_age_is_raised_to_min_refresh_interval(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, headers={"Cache-Control": "no-cache"}))
    source = endpoint(server, clock, min_refresh_interval=30)
    for _ in range(29):
        source.key_set()
        clock.advance(1)
    assert server.count(PATH) == 1
    clock.advance(1)
    source.key_set()
    assert server.count(PATH) == 2


def test_the_given_client_is_used(server: Server, clock: FakeClock, ec_jwk: dict[str, Any]) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    with httpx.Client(headers={"X-Tenant": "orders"}) as client:
        source = endpoint(server, clock, http_client=client)
        source.key_set()
    assert server.request_headers[-1].get("X-Tenant") == "orders"
    assert "jwk-set+json" in server.request_headers[-1]["Accept"]


def test_the_given_async_client_is_used(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))

    async def main() -> None:
        async with httpx.AsyncClient(headers={"X-Tenant": "async"}) as client:
            await endpoint(server, clock, async_http_client=client).key_set_async()

    asyncio.run(main())
    assert server.request_headers[-1].get("X-Tenant") == "async"


# -- unknown kid, rotation -----------------------------------------------------------------


def test_refresh_refetches_at_most_once_per_min_refresh_interval(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = endpoint(server, clock, min_refresh_interval=30)
    caller.key_set(source)
    assert caller.refresh(source) is None  # just fetched: declined without a request
    assert server.count(PATH) == 1
    clock.advance(30)
    refreshed = caller.refresh(source)
    assert refreshed is not None
    assert kids(refreshed) == {"ec-1"}
    assert server.count(PATH) == 2


def test_forged_kid_flood_costs_one_request_per_interval(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = endpoint(server, clock, min_refresh_interval=30)
    source.key_set()
    for _ in range(90):  # two forged tokens per second for 45 seconds
        if source.key_set().select("forged", "ES256") is None:
            assert source.refresh() is None or server.count(PATH) == 2
        clock.advance(0.5)
    assert server.count(PATH) == 2  # the first fetch, and one refresh at +30 s


def test_rotation_new_kid_is_found_after_refresh(
    server: Server,
    clock: FakeClock,
    caller: Caller,
    ec_jwk: dict[str, Any],
    ec_jwk_2: dict[str, Any],
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = endpoint(server, clock, min_refresh_interval=1)
    assert caller.key_set(source).select("ec-2", "ES256") is None
    server.route(PATH, Reply({"keys": [ec_jwk, ec_jwk_2]}))
    clock.advance(1)
    refreshed = caller.refresh(source)
    assert refreshed is not None
    assert refreshed.select("ec-2", "ES256") is not None
    assert caller.key_set(source) is refreshed  # the refreshed set is now the current one


# -- failures --------------------------------------------------------------------------------


def test_outage_serves_stale_keys_until_max_stale_then_drops_them(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = endpoint(server, clock, cache_ttl=60, min_refresh_interval=30, max_stale=100)
    good = caller.key_set(source)
    server.route(PATH, Reply({"error": "down"}, status=500))
    clock.advance(60)
    assert caller.key_set(source) is good  # refetch failed: stale keys serve
    assert server.count(PATH) == 2
    clock.advance(29)
    assert caller.key_set(source) is good  # inside the cooldown: no new request
    assert server.count(PATH) == 2
    clock.advance(1)
    assert caller.key_set(source) is good
    assert server.count(PATH) == 3
    clock.advance(70)  # 160 s after the fetch: past ttl + max_stale
    with pytest.raises(KeySourceUnavailable):
        caller.key_set(source)


def test_no_keys_at_all_is_unavailable_and_retried_only_after_the_cooldown(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply(status=503))
    source = endpoint(server, clock, min_refresh_interval=30)
    for _ in range(20):
        with pytest.raises(KeySourceUnavailable) as caught:
            caller.key_set(source)
        assert caught.value.status_code == 503
    with pytest.raises(KeySourceUnavailable):
        caller.refresh(source)
    assert server.count(PATH) == 1
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    clock.advance(30)
    assert kids(caller.key_set(source)) == {"ec-1"}
    assert server.count(PATH) == 2


SECRET = "leaked-internal-detail"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(b"<html>" + SECRET.encode()),
        Reply(b'{"keys": [], "a": 1, "a": "' + SECRET.encode() + b'"}'),
        Reply({"keys": SECRET}),
        Reply([SECRET]),
        Reply({"keys": [], "pad": SECRET * 1000}),
        Reply({"keys": [], "pad": SECRET * 1000}, content_length=False),
        Reply({"error": SECRET}, status=404),
        Reply({"keys": []}, status=201),
    ],
    ids=["html", "duplicate", "keys-not-list", "array", "large", "large-unsized", "404", "201"],
)
def test_bad_responses_are_unavailable_without_echoing_them(
    server: Server, clock: FakeClock, caller: Caller, reply: Reply
) -> None:
    server.route(PATH, reply)
    source = endpoint(server, clock, max_response_bytes=4_096)
    with pytest.raises(KeySourceUnavailable) as caught:
        caller.key_set(source)
    assert SECRET not in caught.value.description
    assert server.count(PATH) == 1


def test_malformed_and_symmetric_keys_are_skipped(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any], rsa_jwk: dict[str, Any]
) -> None:
    secret = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}
    broken = {"kty": "EC", "kid": "broken", "crv": "P-256", "x": "AAAA", "y": "!!"}
    server.route(PATH, Reply({"keys": [secret, ec_jwk, broken, "nope", {"kty": "XYZ"}, rsa_jwk]}))
    key_set = endpoint(server, clock).key_set()
    assert kids(key_set) == {"ec-1", "rsa-1"}
    assert key_set.select("hmac", "HS256") is None
    assert key_set.select("rsa-1", "RS256") is not None


def test_an_empty_set_is_a_good_set(server: Server, clock: FakeClock, caller: Caller) -> None:
    server.route(PATH, Reply({"keys": []}))
    source = endpoint(server, clock)
    key_set = caller.key_set(source)
    assert len(key_set) == 0
    assert key_set.select("any", "RS256") is None
    caller.key_set(source)
    assert server.count(PATH) == 1


def test_same_host_redirect_is_followed(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    server.route("/old", Reply(status=301, headers={"Location": PATH}))
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = JWKSEndpoint(server.url + "/old", clock=clock)
    assert kids(caller.key_set(source)) == {"ec-1"}
    assert server.count(PATH) == 1


def test_redirect_to_another_host_is_refused(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    # localhost and 127.0.0.1 reach the same server, but they are different hosts.
    elsewhere = server.url.replace("127.0.0.1", "localhost") + PATH
    server.route("/old", Reply(status=302, headers={"Location": elsewhere}))
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = JWKSEndpoint(server.url + "/old", clock=clock)
    with pytest.raises(KeySourceUnavailable, match="another origin"):
        caller.key_set(source)
    assert server.count(PATH) == 0


def test_redirect_loop_ends(server: Server, clock: FakeClock, caller: Caller) -> None:
    server.route(PATH, Reply(status=307, headers={"Location": PATH}))
    with pytest.raises(KeySourceUnavailable):
        caller.key_set(endpoint(server, clock))
    assert 1 < server.count(PATH) <= 6


# -- slow servers: the call returns within timeout, however the server dawdles ---------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply({"keys": []}, delay=10),
        Reply({"keys": [], "pad": "x" * 100}, trickle=0.1),
        Reply({"keys": []}, trickle_head=0.1),
    ],
    ids=["stall", "trickled-body", "trickled-headers"],
)
def test_a_slow_server_is_cut_off_at_timeout(
    server: Server, clock: FakeClock, caller: Caller, reply: Reply
) -> None:
    server.route(PATH, reply)
    source = endpoint(server, clock, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(KeySourceUnavailable):
        caller.key_set(source)
    assert time.monotonic() - started < 1.5
    with pytest.raises(KeySourceUnavailable):
        caller.key_set(source)  # and the failure is remembered: no second wait
    assert time.monotonic() - started < 1.5
    assert server.count(PATH) == 1


# -- single flight -------------------------------------------------------------------------


def test_100_threads_make_one_request(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, delay=0.3))
    source = endpoint(server, clock)
    results: list[Any] = []
    start = threading.Barrier(100)

    def work() -> None:
        start.wait()
        results.append(source.key_set())

    threads = [threading.Thread(target=work) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 100
    assert len({id(key_set) for key_set in results}) == 1
    assert server.count(PATH) == 1


def test_100_tasks_make_one_request(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, delay=0.3))
    source = endpoint(server, clock)

    async def main() -> list[Any]:
        return await asyncio.gather(*(source.key_set_async() for _ in range(100)))

    results = asyncio.run(main())
    assert len({id(key_set) for key_set in results}) == 1
    assert server.count(PATH) == 1


def test_the_event_loop_keeps_running_during_a_fetch(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, delay=0.3))
    source = endpoint(server, clock)

    async def main() -> int:
        ticks = 0
        fetch = asyncio.ensure_future(source.key_set_async())
        while not fetch.done():
            ticks += 1
            await asyncio.sleep(0.01)
        await fetch
        return ticks

    assert asyncio.run(main()) > 5


def test_threads_and_tasks_share_one_request(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, delay=0.3))
    source = endpoint(server, clock)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(source.key_set())) for _ in range(10)]
    threads += [
        threading.Thread(target=lambda: results.append(asyncio.run(source.key_set_async())))
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 20
    assert server.count(PATH) == 1


def test_a_cancelled_caller_does_not_cancel_the_fetch(
    server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}, delay=0.3))
    source = endpoint(server, clock)

    async def main() -> Any:
        first = asyncio.ensure_future(source.key_set_async())
        second = asyncio.ensure_future(source.key_set_async())
        await asyncio.sleep(0.05)
        first.cancel()
        return await second

    assert kids(asyncio.run(main())) == {"ec-1"}
    assert server.count(PATH) == 1


# -- real TLS ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with serve(tls=context) as running:
        yield running


def test_https_with_a_certificate_the_given_client_trusts(
    tls_server: Server, clock: FakeClock, ca: trustme.CA, ec_jwk: dict[str, Any]
) -> None:
    tls_server.route(PATH, Reply({"keys": [ec_jwk]}))
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    with httpx.Client(verify=trusted) as client:
        source = JWKSEndpoint(tls_server.url + PATH, http_client=client, clock=clock)
        assert kids(source.key_set()) == {"ec-1"}
    assert tls_server.url.startswith("https://")


def test_https_with_an_untrusted_certificate_is_unavailable(
    tls_server: Server, clock: FakeClock, ec_jwk: dict[str, Any]
) -> None:
    tls_server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = JWKSEndpoint(tls_server.url + PATH, clock=clock)
    with pytest.raises(KeySourceUnavailable, match="could not be reached"):
        source.key_set()
    assert tls_server.count(PATH) == 0


def test_redirect_from_https_to_http_is_refused(
    tls_server: Server, clock: FakeClock, ca: trustme.CA
) -> None:
    downgrade = tls_server.url.replace("https://", "http://") + PATH
    tls_server.route("/old", Reply(status=301, headers={"Location": downgrade}))
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    with httpx.Client(verify=trusted) as client:
        source = JWKSEndpoint(tls_server.url + "/old", http_client=client, clock=clock)
        with pytest.raises(KeySourceUnavailable, match="another origin"):
            source.key_set()
    assert tls_server.count("/old") == 1


def test_a_bug_below_is_raised_not_hidden_as_unavailable(clock: FakeClock) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a transport")

    transport = httpx.MockTransport(broken)
    with httpx.Client(transport=transport) as client:
        source = JWKSEndpoint("https://idp.example.com/jwks", http_client=client, clock=clock)
        with pytest.raises(RuntimeError, match="a bug"):
            source.key_set()

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            source = JWKSEndpoint(
                "https://idp.example.com/jwks", async_http_client=client, clock=clock
            )
            await source.key_set_async()

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(main())
