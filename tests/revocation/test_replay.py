"""Replay caches of DPoP proofs: one process (`MemoryReplayCache`) and many (`RedisReplayCache`).

The Redis tests run against a real `redis-server`; two caches on one server stand for two
replicas of a service.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis

from accesstoken import (
    DPoP,
    InvalidDPoPProof,
    KeySourceError,
    RequestContext,
    RevocationUnavailable,
)
from accesstoken._dpop import DPOP
from accesstoken._remote.flow import run
from accesstoken._replay import ReplayCache, ttl_milliseconds
from accesstoken.revocation import MemoryReplayCache, RedisReplayCache
from accesstoken.testing import DPoPKey
from tests._dpop_flow import check_binding
from tests.conftest import NOW

from .conftest import RedisServer

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- in memory -------------------------------------------------------------------------------


def test_memory_cache_is_a_replay_cache() -> None:
    assert isinstance(MemoryReplayCache(), ReplayCache)
    assert isinstance(RedisReplayCache(redis.Redis()), ReplayCache)


def test_memory_cache_answers_once_per_key_until_its_ttl() -> None:
    clock = Clock()
    cache = MemoryReplayCache(clock=clock)
    assert cache.first_use("a", 10)
    assert not cache.first_use("a", 10)
    assert cache.first_use("b", 10)
    clock.now += 9.999
    assert not cache.first_use("a", 10)
    clock.now += 0.001
    assert cache.first_use("a", 10)  # forgotten exactly at its end, then remembered anew
    assert not asyncio.run(cache.first_use_async("a", 10))
    assert asyncio.run(cache.first_use_async("c", 10))


def test_a_full_memory_cache_refuses_rather_than_forget(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    cache = MemoryReplayCache(max_entries=2, clock=clock)
    assert cache.first_use("a", 10)
    assert cache.first_use("b", 20)
    for _ in range(3):
        with pytest.raises(RevocationUnavailable, match="replay cache"):
            cache.first_use("c", 10)
    assert [r.message for r in caplog.records].count(
        "DPoP replay cache full (2 proofs); proofs refused"
    ) == 1
    assert not cache.first_use("a", 10)  # nothing was evicted to make room
    assert not cache.first_use("b", 10)
    clock.now += 10
    assert cache.first_use("c", 10)  # "a" has ended: room again
    assert not cache.first_use("b", 10)
    assert len(cache) == 2


def test_memory_cache_is_one_winner_among_racing_threads() -> None:
    cache = MemoryReplayCache()
    start = threading.Barrier(16)
    wins: list[bool] = []

    def race() -> None:
        start.wait()
        for key in range(200):
            wins.append(cache.first_use(str(key), 60))

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 200
    assert len(wins) == 16 * 200


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_entries": 0}, ValueError),
        ({"max_entries": 1.5}, TypeError),
        ({"clock": 1}, TypeError),
    ],
)
def test_memory_cache_options_are_checked(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        MemoryReplayCache(**options)


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf")])
def test_a_ttl_must_be_a_positive_number_of_seconds(ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        MemoryReplayCache().first_use("a", ttl)


def test_every_ttl_is_checked_after_one_that_passed() -> None:
    # A ttl equal to the last one that passed skips the check; no other does.
    cache = MemoryReplayCache()
    assert cache.first_use("a", 10.0)
    for ttl in (0.0, -10.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="ttl"):
            cache.first_use("b", ttl)
    with pytest.raises(TypeError, match="ttl"):
        cache.first_use("b", True)
    assert cache.first_use("b", 10)
    assert cache.first_use("c", 10.0)
    assert not cache.first_use("b", 10.0)


# -- in Redis --------------------------------------------------------------------------------


def run_async(server: RedisServer, scenario: Callable[[RedisReplayCache], Awaitable[T]]) -> T:
    """Run `scenario` with an async-only cache whose client lives in the scenario's loop."""

    async def main() -> T:
        client = server.async_client()
        try:
            return await scenario(RedisReplayCache(async_client=client))
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_redis_cache_is_one_set_nx_px_with_a_ttl(redis_client: redis.Redis) -> None:
    cache = RedisReplayCache(redis_client)
    assert cache.first_use("k", 2.0001)
    assert redis_client.get("accesstoken:dpop:k") == b"1"
    assert 1900 < redis_client.pttl("accesstoken:dpop:k") <= 2001
    assert not cache.first_use("k", 2)
    assert redis_client.pttl("accesstoken:dpop:k") > 1900  # a refused use does not extend it


def test_redis_cache_is_shared_by_replicas(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    other_client = redis_server.client()
    try:
        one, two = RedisReplayCache(redis_client), RedisReplayCache(other_client)
        assert one.first_use("k", 60)
        assert not two.first_use("k", 60)
        assert two.first_use("j", 60)
        assert not one.first_use("j", 60)
    finally:
        other_client.close()


def test_redis_cache_forgets_after_the_ttl(redis_client: redis.Redis) -> None:
    cache = RedisReplayCache(redis_client)
    assert cache.first_use("k", 0.05)
    redis_client.pexpire("accesstoken:dpop:k", 1)
    # Redis expires keys by its own clock: ask until it has, rather than sleep a fixed time.
    gone = next(i for i in range(100_000) if not redis_client.exists("accesstoken:dpop:k"))
    assert gone < 100_000
    assert cache.first_use("k", 60)


@pytest.mark.parametrize(("ttl", "ms"), [(0.0001, 1), (2.0001, 2001), (300, 300_000), (1.5, 1500)])
def test_redis_ttls_round_up_to_milliseconds(ttl: float, ms: int) -> None:
    assert ttl_milliseconds(ttl) == ms


def test_redis_cache_async_shares_keys_with_sync(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    assert RedisReplayCache(redis_client, prefix="p:").first_use("k", 60)

    async def scenario(cache: RedisReplayCache) -> tuple[bool, bool]:
        return await cache.first_use_async("k", 60), await cache.first_use_async("n", 60)

    assert run_async(redis_server, scenario) == (True, True)  # another prefix, another key
    assert redis_client.exists("p:k", "accesstoken:dpop:k", "accesstoken:dpop:n") == 3

    async def again(cache: RedisReplayCache) -> bool:
        return await cache.first_use_async("k", 60)

    assert run_async(redis_server, again) is False


def test_unreachable_redis_is_503_never_a_yes(
    redis_outage: RedisServer, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisReplayCache(redis_client)
    redis_outage.stop()
    with pytest.raises(RevocationUnavailable, match="replay cache could not be reached") as down:
        cache.first_use("k", 60)
    assert isinstance(down.value, KeySourceError)
    assert down.value.status_code == 503
    assert "DPoP replay cache unreachable: ConnectionError" in caplog.text

    async def scenario(cache: RedisReplayCache) -> bool:
        return await cache.first_use_async("k", 60)

    with pytest.raises(RevocationUnavailable):
        run_async(redis_outage, scenario)
    redis_outage.start()
    assert cache.first_use("k", 60)  # redis-py reconnects by itself


def test_redis_cache_needs_a_client_of_the_path_used(redis_client: redis.Redis) -> None:
    with pytest.raises(TypeError, match=r"needs a redis\.Redis client"):
        RedisReplayCache()
    with pytest.raises(TypeError, match="prefix"):
        RedisReplayCache(redis_client, prefix=b"p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no async_client"):
        asyncio.run(RedisReplayCache(redis_client).first_use_async("k", 1))


def test_a_proof_accepted_by_one_replica_is_refused_by_another(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    key = DPoPKey()
    raw = "a.b.c"
    proof = key.proof("GET", "https://api.example.com/", raw, iat=NOW)
    request = RequestContext("GET", "https://api.example.com/", proof)
    other_client = redis_server.client()
    try:
        replicas = [DPoP(replay_cache=RedisReplayCache(c)) for c in (redis_client, other_client)]
        run(check_binding({"cnf": key.cnf}, raw, DPOP, request, replicas[0], NOW))
        with pytest.raises(InvalidDPoPProof, match="used before"):
            run(check_binding({"cnf": key.cnf}, raw, DPOP, request, replicas[1], NOW))
    finally:
        other_client.close()
