"""The refresh policy alone: no I/O, no clock but the numbers given."""

from __future__ import annotations

import math

import pytest

from accesstoken._remote.policy import (
    ONE_DAY,
    CachedDocument,
    Decision,
    RefreshPolicy,
    max_age_from,
)

# Without jitter, so that the rules below are pinned to the second; jitter is tested last.
POLICY = RefreshPolicy(cache_ttl=300, min_refresh_interval=30, max_stale=1_000, jitter=0)


def fetched(
    value: str = "v1", *, at: float = 0.0, max_age: float | None = None
) -> CachedDocument[str]:
    cache: CachedDocument[str] = CachedDocument(POLICY)
    assert cache.decide(at, forced=False) is Decision.FETCH
    assert cache.succeeded(cache.begin(), value, max_age, at)
    return cache


def test_cold_cache_fetches_then_serves_until_cache_ttl() -> None:
    cache = fetched()
    assert cache.decide(299.9, forced=False) is Decision.SERVE
    assert cache.current(299.9) == "v1"
    assert cache.decide(300, forced=False) is Decision.FETCH


@pytest.mark.parametrize(
    ("max_age", "lifetime"),
    [(None, 300), (600, 600), (1, 30), (0, 30), (10**9, ONE_DAY)],
)
def test_max_age_is_clamped_between_min_refresh_interval_and_a_day(
    max_age: float | None, lifetime: float
) -> None:
    assert POLICY.lifetime(max_age) == lifetime
    cache = fetched(max_age=max_age)
    assert cache.is_fresh(lifetime - 0.1)
    assert not cache.is_fresh(lifetime)


def test_forced_refresh_is_rate_limited_by_min_refresh_interval() -> None:
    cache = fetched()
    assert cache.decide(29, forced=True) is Decision.DECLINE
    assert cache.decide(30, forced=True) is Decision.FETCH


def test_failure_without_a_document_is_unavailable_until_the_cooldown_ends() -> None:
    cache: CachedDocument[str] = CachedDocument(POLICY)
    cache.failed(cache.begin(), 0)
    assert cache.decide(29, forced=False) is Decision.UNAVAILABLE
    assert cache.decide(29, forced=True) is Decision.UNAVAILABLE
    assert cache.decide(30, forced=False) is Decision.FETCH


def test_stale_document_serves_through_failures_until_max_stale() -> None:
    cache = fetched()
    assert cache.decide(300, forced=False) is Decision.FETCH
    cache.failed(cache.begin(), 300)
    assert cache.decide(310, forced=False) is Decision.SERVE
    assert cache.current(310) == "v1"
    assert cache.decide(310, forced=True) is Decision.DECLINE
    assert cache.current(1_299.9) == "v1"
    assert cache.current(1_300) is None  # fresh for 300, then 1 000 stale seconds
    assert cache.decide(1_300, forced=False) is Decision.FETCH


def test_success_after_failure_ends_the_cooldown_for_expiry() -> None:
    cache = fetched()
    cache.failed(cache.begin(), 300)
    assert cache.succeeded(cache.begin(), "v2", None, 330)
    assert cache.current(331) == "v2"
    assert cache.decide(630, forced=False) is Decision.FETCH


def test_an_older_response_never_replaces_a_newer_one() -> None:
    cache: CachedDocument[str] = CachedDocument(POLICY)
    first, second = cache.begin(), cache.begin()
    assert cache.succeeded(second, "new", None, 1)
    assert not cache.succeeded(first, "old", None, 2)
    cache.failed(first, 3)  # an old failure does not start a cooldown either
    assert cache.current(3) == "new"
    assert cache.decide(3, forced=False) is Decision.SERVE


@pytest.mark.parametrize(
    ("cache_control", "age", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("public, max-age=600", None, 600.0),
        ("Max-Age=60, max-age=5", None, 60.0),  # the first occurrence (RFC 9111 §4.2.1)
        ("max-age=600", "100", 500.0),
        ("max-age=60", "100", 0.0),
        ("max-age=-1", None, None),
        ("max-age=1e3", None, None),
        ("max-age=\u0661\u0662", None, None),  # non-ASCII digits are not delta-seconds
        ("no-store", None, 0.0),
        ("max-age=600, no-cache", None, 0.0),
        ("private", None, None),
    ],
)
def test_max_age_from_cache_control(
    cache_control: str | None, age: str | None, expected: float | None
) -> None:
    assert max_age_from(cache_control, age) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"cache_ttl": 0},
        {"cache_ttl": -1},
        {"cache_ttl": math.nan},
        {"min_refresh_interval": -1},
        {"max_stale": -0.5},
    ],
)
def test_bad_policy_values_are_value_errors(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RefreshPolicy(**options)


def test_non_numeric_policy_values_are_type_errors() -> None:
    with pytest.raises(TypeError):
        RefreshPolicy(cache_ttl="300")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RefreshPolicy(max_stale=True)


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
@pytest.mark.parametrize(("max_age", "base"), [(None, 300), (600, 600), (31, 31)])
def test_jitter_ends_a_lifetime_between_ninety_and_a_hundred_percent(
    draw: float, max_age: float | None, base: float
) -> None:
    policy = RefreshPolicy(cache_ttl=300, min_refresh_interval=30)  # jitter 0.1 by default
    expected = max(base * (1 - 0.1 * draw), 30 if max_age is not None else 0)
    assert policy.lifetime(max_age, draw) == pytest.approx(expected)
    cache: CachedDocument[str] = CachedDocument(policy, draw=lambda: draw)
    assert cache.succeeded(cache.begin(), "doc", max_age, now=0)
    assert 0.9 * base <= cache.fresh_until <= base


@pytest.mark.parametrize("draw", [0.0, 0.999999])
def test_a_max_age_never_ends_before_min_refresh_interval_even_jittered(draw: float) -> None:
    policy = RefreshPolicy(cache_ttl=300, min_refresh_interval=30)
    assert policy.lifetime(0, draw) == 30
    assert policy.lifetime(30, draw) == 30


def test_replicas_started_together_draw_different_lifetimes() -> None:
    policy = RefreshPolicy(cache_ttl=300)
    ends = set()
    for _ in range(50):
        cache: CachedDocument[str] = CachedDocument(policy)
        cache.succeeded(cache.begin(), "doc", None, now=0)
        ends.add(cache.fresh_until)
    assert len(ends) > 40
    assert min(ends) >= 270
    assert max(ends) <= 300


@pytest.mark.parametrize("jitter", [-0.1, 1, 1.5, float("nan")])
def test_jitter_out_of_range_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match="refresh_jitter"):
        RefreshPolicy(jitter=jitter)
