"""The verified-token cache behind `cache_size`: bounded, and never past a token's `exp`."""

from __future__ import annotations

from typing import Any

import pytest

from accesstoken import TokenNotYetValid
from accesstoken._token import AccessToken
from accesstoken._verifier import _VerifiedTokens


def token(name: str, **claims: Any) -> AccessToken:
    return AccessToken(name, {}, {"sub": name, **claims})


def test_a_token_is_served_until_its_exp_and_never_after() -> None:
    cache = _VerifiedTokens(10, leeway=0)
    first = token("a")
    cache.put("a", first, exp=100, now=0)
    assert cache.get("a", now=99.9) is first
    assert cache.get("a", now=100) is None
    assert cache.get("b", now=0) is None


def test_a_token_whose_exp_has_come_is_not_remembered() -> None:
    cache = _VerifiedTokens(10, leeway=0)
    cache.put("a", token("a"), exp=100, now=100)  # still valid within leeway, but not cached
    assert len(cache) == 0


def test_when_full_the_entry_that_expires_soonest_goes() -> None:
    cache = _VerifiedTokens(2, leeway=0)
    cache.put("late", token("late"), exp=300, now=0)
    cache.put("soon", token("soon"), exp=100, now=0)
    cache.put("new", token("new"), exp=200, now=0)
    assert len(cache) == 2
    assert cache.get("soon", now=0) is None
    assert cache.get("late", now=0) is not None
    assert cache.get("new", now=0) is not None


def test_expired_entries_are_dropped_as_new_ones_come_in() -> None:
    cache = _VerifiedTokens(1_000, leeway=0)
    for number in range(100):
        cache.put(f"t{number}", token(f"t{number}"), exp=10 + number, now=0)
    cache.put("late", token("late"), exp=1_000, now=60)  # t0 .. t50 have expired by now
    assert len(cache) == 100 - 51 + 1


def test_the_same_token_put_twice_leaves_one_entry_and_stays_bounded() -> None:
    cache = _VerifiedTokens(2, leeway=0)
    same = token("a")
    cache.put("a", same, exp=100, now=0)
    cache.put("a", same, exp=100, now=0)  # two threads that missed at the same time
    for number in range(10):
        cache.put(f"t{number}", token(f"t{number}"), exp=200 + number, now=0)
    assert len(cache) == 2


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_hit_before_nbf_or_iat_fails_as_the_full_check_would(claim: str) -> None:
    cache = _VerifiedTokens(10, leeway=5)
    cached = token("a", exp=100, **{claim: 50})
    cache.put("a", cached, exp=100, now=60)
    assert cache.get("a", now=45) is cached  # within the leeway
    with pytest.raises(TokenNotYetValid):
        cache.get("a", now=44.9)  # a clock set back
