"""`RedisDenylist` against a real `redis-server`: keys, TTLs, round trips, replicas, outages."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis

from accesstoken import (
    AccessToken,
    KeySourceError,
    RevocationCheck,
    RevocationUnavailable,
    TokenRevoked,
)
from accesstoken.revocation import RedisDenylist
from tests.conftest import NOW, claims, make_verifier, mint

from ._support import token
from .conftest import RedisServer

T = TypeVar("T")
PREFIX = "accesstoken:revoked:"


def run_async(server: RedisServer, scenario: Callable[[RedisDenylist], Awaitable[T]]) -> T:
    """Run `scenario` with an async-only denylist whose client lives in the scenario's loop."""

    async def main() -> T:
        client = server.async_client()
        try:
            return await scenario(RedisDenylist(async_client=client, clock=lambda: NOW))
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_is_a_revocation_check(redis_client: redis.Redis) -> None:
    assert isinstance(RedisDenylist(redis_client), RevocationCheck)


def test_revoked_token_is_refused_by_a_sync_verifier(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, clock=lambda: NOW)
    verifier = make_verifier(revocation=deny)
    revoked, kept = mint(payload=claims(jti="a")), mint(payload=claims(jti="b"))
    deny.revoke(verifier.verify(revoked))
    with pytest.raises(TokenRevoked):
        verifier.verify(revoked)
    assert verifier.verify(kept).jti == "b"


def test_revoked_token_is_refused_by_an_async_verifier(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    revoked, kept = mint(payload=claims(jti="a")), mint(payload=claims(jti="b"))

    async def scenario(deny: RedisDenylist) -> str | None:
        verifier = make_verifier(revocation=deny)
        await deny.revoke_async(await verifier.verify_async(revoked))
        with pytest.raises(TokenRevoked):
            await verifier.verify_async(revoked)
        await deny.revoke_subject_async("user-2")
        await deny.revoke_jti_async("c", expires_at=NOW + 60)
        assert await deny.is_revoked_async(token(jti="x", sub="user-2"))
        assert await deny.is_revoked_async(token(jti="c"))
        return (await verifier.verify_async(kept)).jti

    assert run_async(redis_server, scenario) == "b"
    assert redis_client.exists(f"{PREFIX}jti:a", f"{PREFIX}jti:c", f"{PREFIX}sub:user-2") == 3


def test_one_key_per_jti_and_subject_with_the_remaining_life_as_ttl(
    redis_client: redis.Redis,
) -> None:
    deny = RedisDenylist(redis_client, grace=60, max_token_lifetime=3600, clock=lambda: NOW)
    deny.revoke(token(jti="a", exp=int(NOW) + 100))
    deny.revoke_jti("b")  # unknown expiry: max_token_lifetime + grace
    deny.revoke_jti("c", expires_at=NOW + 100_000)  # far away: until its exp + grace
    deny.revoke_subject("user-1", issued_before=NOW - 600)

    assert redis_client.ttl(f"{PREFIX}jti:a") == 160
    assert redis_client.ttl(f"{PREFIX}jti:b") == 3660
    assert redis_client.ttl(f"{PREFIX}jti:c") == 100_060
    assert redis_client.ttl(f"{PREFIX}sub:user-1") == 3060
    assert float(redis_client.get(f"{PREFIX}sub:user-1")) == NOW - 600
    assert sorted(redis_client.keys("*")) == sorted(
        f"{PREFIX}{name}".encode() for name in ("jti:a", "jti:b", "jti:c", "sub:user-1")
    )


def test_ttls_round_up_to_whole_seconds(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, grace=0, clock=lambda: NOW)
    deny.revoke_jti("a", expires_at=NOW + 10.2)
    pttl = redis_client.pttl(f"{PREFIX}jti:a")
    assert 10_200 < pttl <= 11_000


def test_every_key_has_a_ttl(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, clock=lambda: NOW)
    deny.revoke(token(jti="a", exp=None))
    deny.revoke_jti("b")
    deny.revoke_subject("user-1")
    deny.revoke_subject("user-1")  # again: the script keeps a TTL
    keys = list(redis_client.scan_iter("*"))
    assert len(keys) == 3
    assert all(redis_client.ttl(key) > 0 for key in keys)


def test_revoking_what_has_ended_writes_nothing(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, grace=60, max_token_lifetime=3600, clock=lambda: NOW)
    deny.revoke(token(exp=int(NOW) - 60))
    deny.revoke_jti("old", expires_at=NOW - 61)
    deny.revoke_subject("user-1", issued_before=NOW - 3660)
    assert redis_client.dbsize() == 0


def test_revoking_twice_only_widens(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, grace=0, max_token_lifetime=3600, clock=lambda: NOW)
    deny.revoke_jti("x", expires_at=NOW + 500)
    deny.revoke_jti("x", expires_at=NOW + 100)
    deny.revoke_subject("user-1", issued_before=NOW)
    deny.revoke_subject("user-1", issued_before=NOW - 1000)
    assert redis_client.ttl(f"{PREFIX}jti:x") == 500
    assert redis_client.ttl(f"{PREFIX}sub:user-1") == 3600
    assert deny.is_revoked(token(jti=None, iat=int(NOW) - 10))


def test_a_subject_rule_catches_earlier_tokens_and_those_without_iat(
    redis_client: redis.Redis,
) -> None:
    deny = RedisDenylist(redis_client, clock=lambda: NOW)
    deny.revoke_subject("user-1", issued_before=NOW)
    assert deny.is_revoked(token(jti="j1", iat=int(NOW) - 1))
    assert deny.is_revoked(token(jti=None, iat=None))
    assert not deny.is_revoked(token(jti="j2", iat=int(NOW) + 1))
    assert not deny.is_revoked(token(jti="j3", sub="user-2", iat=int(NOW) - 1))


def test_a_value_it_did_not_write_denies_rather_than_lets_through(
    redis_client: redis.Redis,
) -> None:
    redis_client.set(f"{PREFIX}sub:user-1", "garbage", ex=60)
    assert RedisDenylist(redis_client).is_revoked(token(jti=None))


def test_the_prefix_is_configurable(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, prefix="orders:deny:", clock=lambda: NOW)
    deny.revoke_jti("a")
    assert redis_client.exists("orders:deny:jti:a") == 1
    assert not RedisDenylist(redis_client).is_revoked(token(jti="a"))
    assert deny.is_revoked(token(jti="a"))


def test_an_entry_removed_by_its_ttl_no_longer_denies(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, clock=lambda: NOW)
    deny.revoke_jti("a")
    assert deny.is_revoked(token(jti="a"))
    redis_client.pexpire(f"{PREFIX}jti:a", 1)  # what the TTL does, without waiting a day
    deadline = time.monotonic() + 5
    while redis_client.exists(f"{PREFIX}jti:a"):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert not deny.is_revoked(token(jti="a"))


def test_a_check_is_one_mget_and_never_a_scan(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, clock=lambda: NOW)
    deny.revoke_subject("user-1", issued_before=NOW - 100)
    redis_client.config_resetstat()

    assert not deny.is_revoked(token(jti="a", iat=int(NOW) - 10))

    stats = redis_client.info("commandstats")
    assert stats["cmdstat_mget"]["calls"] == 1
    assert set(stats) <= {"cmdstat_mget", "cmdstat_config|resetstat", "cmdstat_config"}


def test_a_token_with_neither_jti_nor_sub_needs_no_round_trip(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client)
    redis_client.config_resetstat()
    assert not deny.is_revoked(token(jti=None, sub=None))
    assert "cmdstat_mget" not in redis_client.info("commandstats")


def test_two_replicas_share_one_redis(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    first, second = redis_server.client(), redis_server.client()
    replica_a = make_verifier(revocation=RedisDenylist(first, clock=lambda: NOW))
    deny_b = RedisDenylist(second, clock=lambda: NOW)
    replica_b = make_verifier(revocation=deny_b)
    raw = mint()
    assert replica_a.verify(raw).subject == replica_b.verify(raw).subject == "user-1"

    deny_b.revoke(replica_b.verify(raw))  # revoked through replica B only

    with pytest.raises(TokenRevoked):
        replica_a.verify(raw)
    deny_b.revoke_subject("user-1")
    with pytest.raises(TokenRevoked):
        replica_a.verify(mint(payload=claims(jti="another")))
    first.close()
    second.close()


@pytest.mark.parametrize("path", ["sync", "async"])
def test_redis_down_is_a_503_and_recovery_needs_no_new_client(
    redis_outage: RedisServer, path: str
) -> None:
    raw = mint()

    async def scenario() -> list[str]:
        async_client = redis_outage.async_client()
        deny = RedisDenylist(redis_outage.client(), async_client=async_client, clock=lambda: NOW)
        verifier = make_verifier(revocation=deny)

        async def verify() -> AccessToken:
            if path == "sync":
                return verifier.verify(raw)
            return await verifier.verify_async(raw)

        seen = [(await verify()).raw]
        redis_outage.stop()
        with pytest.raises(RevocationUnavailable) as caught:
            await verify()
        assert isinstance(caught.value, KeySourceError)
        assert caught.value.status_code == 503
        with pytest.raises(RevocationUnavailable):
            deny.revoke_jti("during-the-outage")  # a write is never silently dropped
        redis_outage.start()
        seen.append((await verify()).raw)  # the same clients reconnect by themselves
        deny.revoke_jti("jti-1")
        with pytest.raises(TokenRevoked):
            await verify()
        await async_client.aclose()
        return seen

    assert asyncio.run(scenario()) == [raw, raw]


def test_fail_open_lets_tokens_through_while_redis_is_down(
    redis_outage: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    raw = mint()
    deny = RedisDenylist(redis_outage.client(), fail_open=True, clock=lambda: NOW)
    verifier = make_verifier(revocation=deny)
    deny.revoke_jti("jti-1")
    with pytest.raises(TokenRevoked):
        verifier.verify(raw)

    redis_outage.stop()
    with caplog.at_level(logging.WARNING, logger="accesstoken"):
        assert verifier.verify(raw).jti == "jti-1"
    assert "token accepted" in caplog.text
    assert raw not in caplog.text


def test_async_fail_open(redis_outage: RedisServer) -> None:
    async def scenario(deny: RedisDenylist) -> bool:
        redis_outage.stop()
        return await deny.is_revoked_async(token())

    async def main() -> bool:
        client = redis_outage.async_client()
        try:
            return await scenario(RedisDenylist(async_client=client, fail_open=True))
        finally:
            await client.aclose()

    assert asyncio.run(main()) is False


@pytest.mark.parametrize(
    ("args", "options", "error"),
    [
        ((), {}, TypeError),  # no client at all
        ((None,), {"prefix": 5}, TypeError),
        ((None,), {"fail_open": "yes"}, TypeError),
        ((None,), {"grace": -1}, ValueError),
    ],
)
def test_bad_options_fail_at_construction(
    redis_client: redis.Redis, args: tuple[Any, ...], options: dict[str, Any], error: type
) -> None:
    if args:
        args = (redis_client,)
    with pytest.raises(error):
        RedisDenylist(*args, **options)


def test_a_sync_call_without_a_sync_client_is_a_programming_error(
    redis_server: RedisServer,
) -> None:
    async def scenario(deny: RedisDenylist) -> None:
        with pytest.raises(TypeError):
            deny.is_revoked(token())
        with pytest.raises(TypeError):
            deny.revoke_jti("a")

    run_async(redis_server, scenario)


def test_ttl_rounding_matches_math_ceil(redis_client: redis.Redis) -> None:
    deny = RedisDenylist(redis_client, grace=0, clock=lambda: NOW + 0.25)
    deny.revoke_jti("a", expires_at=NOW + 100)
    assert redis_client.ttl(f"{PREFIX}jti:a") == math.ceil(100 - 0.25)


def test_a_path_without_its_client_is_a_type_error_and_the_other_path_works(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    sync_only = RedisDenylist(redis_server.client(), clock=lambda: NOW)
    with pytest.raises(TypeError, match="no async_client"):
        asyncio.run(sync_only.revoke_jti_async("a"))
    with pytest.raises(TypeError, match="no async_client"):
        asyncio.run(sync_only.is_revoked_async(token(jti="a")))
    sync_only.revoke_jti("a")
    assert sync_only.is_revoked(token(jti="a"))

    async def scenario(async_only: RedisDenylist) -> bool:
        with pytest.raises(TypeError, match="no sync client"):
            async_only.revoke_jti("b")
        with pytest.raises(TypeError, match="no sync client"):
            async_only.is_revoked(token(jti="a"))
        return await async_only.is_revoked_async(token(jti="a"))

    assert run_async(redis_server, scenario)
