"""KeySource.key_set_nowait(): the key set a verifier may use without asking its driver."""

from __future__ import annotations

from typing import Any

from accesstoken import HMACSecret, KeySet, KeySource
from accesstoken._keys.jwks import JWKSEndpoint

from ._server import Reply, Server
from .conftest import Caller, FakeClock

PATH = "/jwks.json"


def test_a_source_without_io_has_its_key_set_at_hand() -> None:
    keys = HMACSecret(b"k" * 32)
    assert keys.key_set_nowait() is keys.key_set()


def test_a_source_with_its_own_async_twin_is_asked_through_it() -> None:
    held = HMACSecret(b"k" * 32).key_set()

    class Remote(KeySource):
        def key_set(self) -> KeySet:
            return held

        async def key_set_async(self) -> KeySet:
            return held

    assert Remote().key_set_nowait() is None


def test_jwks_endpoint_has_its_set_at_hand_only_while_fresh(
    server: Server, clock: FakeClock, caller: Caller, ec_jwk: dict[str, Any]
) -> None:
    server.route(PATH, Reply({"keys": [ec_jwk]}))
    source = JWKSEndpoint(server.url + PATH, clock=clock, cache_ttl=60)
    assert source.key_set_nowait() is None  # cold: it never fetches
    assert server.count(PATH) == 0
    fetched = caller.key_set(source)
    assert source.key_set_nowait() is fetched
    clock.advance(60)
    assert source.key_set_nowait() is None  # expired: key_set() decides what to do
    assert server.count(PATH) == 1
