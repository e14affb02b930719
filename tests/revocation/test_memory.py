"""`MemoryDenylist`: what it refuses, how long it remembers, what it evicts, under threads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

from accesstoken import RevocationCheck, TokenRevoked
from accesstoken.revocation import MemoryDenylist
from tests.conftest import NOW, Verify, claims, make_verifier, mint

from ._support import Clock, Path, token


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


def test_is_a_revocation_check() -> None:
    assert isinstance(MemoryDenylist(), RevocationCheck)


def test_revoked_token_is_refused_by_the_verifier_and_others_are_not(verify: Verify) -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    verifier = make_verifier(revocation=deny)
    revoked, kept = mint(payload=claims(jti="a")), mint(payload=claims(jti="b"))
    deny.revoke(verify(verifier, revoked))

    with pytest.raises(TokenRevoked):
        verify(verifier, revoked)
    assert verify(verifier, kept).jti == "b"


def test_revocation_is_checked_before_scopes(verify: Verify) -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    deny.revoke_jti("jti-1")
    with pytest.raises(TokenRevoked):
        verify(make_verifier(revocation=deny), mint(), scopes=("not-granted",))


def test_a_verifier_with_a_cache_still_asks_every_call(verify: Verify) -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    verifier = make_verifier(revocation=deny, cache_size=10)
    raw = mint()
    token_ = verify(verifier, raw)
    verify(verifier, raw)  # now served from the verifier's cache
    deny.revoke(token_)
    with pytest.raises(TokenRevoked):
        verify(verifier, raw)


def test_each_method_and_its_twin(call: Path) -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    call(deny, "revoke", token(jti="by-token"))
    call(deny, "revoke_jti", "by-id", expires_at=NOW + 60)
    call(deny, "revoke_subject", "user-2")

    assert call(deny, "is_revoked", token(jti="by-token"))
    assert call(deny, "is_revoked", token(jti="by-id"))
    assert call(deny, "is_revoked", token(jti="other", sub="user-2"))
    assert not call(deny, "is_revoked", token(jti="other"))
    assert len(deny) == 3


def test_a_jti_entry_lives_until_exp_plus_grace(call: Path) -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=60, clock=clock)
    revoked = token(exp=int(NOW) + 300)
    call(deny, "revoke", revoked)

    clock.now = NOW + 359.9
    assert call(deny, "is_revoked", revoked)
    clock.now = NOW + 360
    assert not call(deny, "is_revoked", revoked)
    assert len(deny) == 0


def test_grace_zero_ends_the_entry_at_exp() -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=0, clock=clock)
    revoked = token(exp=int(NOW) + 300)
    deny.revoke(revoked)
    clock.now = NOW + 299.9
    assert deny.is_revoked(revoked)
    clock.now = NOW + 300
    assert not deny.is_revoked(revoked)


def test_without_a_known_expiry_a_jti_lives_max_token_lifetime_plus_grace() -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=60, max_token_lifetime=3600, clock=clock)
    deny.revoke_jti("abc")
    deny.revoke(token(jti="no-exp", exp=None))
    clock.now = NOW + 3659
    assert deny.is_revoked(token(jti="abc"))
    assert deny.is_revoked(token(jti="no-exp"))
    clock.now = NOW + 3660
    assert not deny.is_revoked(token(jti="abc"))
    assert not deny.is_revoked(token(jti="no-exp"))


def test_a_jti_far_in_the_future_lives_until_its_exp() -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=0, max_token_lifetime=60, clock=clock)
    deny.revoke_jti("long", expires_at=NOW + 10_000)
    clock.now = NOW + 9_999
    assert deny.is_revoked(token(jti="long"))


@pytest.mark.parametrize(
    "expires_at",
    [
        datetime.fromtimestamp(NOW + 100, tz=timezone.utc),
        datetime.fromtimestamp(NOW + 100, tz=timezone.utc).replace(tzinfo=None),  # naive: UTC
        datetime.fromtimestamp(NOW + 100, tz=timezone(timedelta(hours=5))),
        NOW + 100,
    ],
)
def test_expires_at_is_a_datetime_naive_meaning_utc_or_epoch_seconds(
    expires_at: datetime | float,
) -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=0, clock=clock)
    deny.revoke_jti("x", expires_at=expires_at)
    clock.now = NOW + 99.5
    assert deny.is_revoked(token(jti="x"))
    clock.now = NOW + 100
    assert not deny.is_revoked(token(jti="x"))


def test_revoking_what_has_ended_stores_nothing(call: Path) -> None:
    deny = MemoryDenylist(grace=60, max_token_lifetime=3600, clock=lambda: NOW)
    call(deny, "revoke", token(exp=int(NOW) - 60))
    call(deny, "revoke_jti", "old", expires_at=NOW - 61)
    call(deny, "revoke_subject", "user-1", issued_before=NOW - 3660)
    assert len(deny) == 0


def test_a_token_without_jti_cannot_be_revoked_alone_but_its_subject_can() -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    anonymous = token(jti=None)
    with pytest.raises(ValueError, match="revoke_subject"):
        deny.revoke(anonymous)
    assert not deny.is_revoked(anonymous)
    deny.revoke_subject("user-1")
    assert deny.is_revoked(anonymous)


def test_a_subject_rule_catches_earlier_tokens_and_those_without_iat() -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    deny.revoke_subject("user-1", issued_before=NOW)
    assert deny.is_revoked(token(iat=int(NOW) - 1))
    assert deny.is_revoked(token(iat=None))
    assert not deny.is_revoked(token(iat=int(NOW) + 1))  # issued after the rule
    assert not deny.is_revoked(token(sub="user-2", iat=int(NOW) - 1))
    assert not deny.is_revoked(token(sub=None, iat=int(NOW) - 1))


def test_a_subject_rule_defaults_to_now_and_lives_max_lifetime_plus_grace() -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=60, max_token_lifetime=3600, clock=clock)
    deny.revoke_subject("user-1")
    old = token(iat=int(NOW) - 10, exp=None)
    clock.now = NOW + 3659
    assert deny.is_revoked(old)
    clock.now = NOW + 3660
    assert not deny.is_revoked(old)


def test_revoking_a_subject_twice_only_widens_the_rule() -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=0, max_token_lifetime=3600, clock=clock)
    deny.revoke_subject("user-1", issued_before=NOW)
    deny.revoke_subject("user-1", issued_before=NOW - 1000)  # earlier: must not narrow
    assert deny.is_revoked(token(iat=int(NOW) - 10))
    clock.now = NOW + 3599
    assert deny.is_revoked(token(iat=int(NOW) - 10, exp=None))
    assert len(deny) == 1


def test_revoking_a_jti_twice_keeps_the_longer_life() -> None:
    clock = Clock()
    deny = MemoryDenylist(grace=0, clock=clock)
    deny.revoke_jti("x", expires_at=NOW + 500)
    deny.revoke_jti("x", expires_at=NOW + 100)
    clock.now = NOW + 400
    assert deny.is_revoked(token(jti="x"))


def test_when_full_the_soonest_ending_entries_go_first() -> None:
    deny = MemoryDenylist(max_entries=3, grace=0, clock=lambda: NOW)
    deny.revoke_jti("ends-300", expires_at=NOW + 300)
    deny.revoke_jti("ends-100", expires_at=NOW + 100)
    deny.revoke_subject("user-9")  # a rule counts too; it ends at NOW + 86_400
    deny.revoke_jti("ends-200", expires_at=NOW + 200)

    assert len(deny) == 3
    assert not deny.is_revoked(token(jti="ends-100", sub=None))
    assert deny.is_revoked(token(jti="ends-200", sub=None))
    assert deny.is_revoked(token(jti="ends-300", sub=None))
    assert deny.is_revoked(token(jti=None, sub="user-9"))


def test_when_full_the_newest_entry_stays_even_if_it_ends_soonest() -> None:
    deny = MemoryDenylist(max_entries=2, grace=0, clock=lambda: NOW)
    deny.revoke_jti("ends-300", expires_at=NOW + 300)
    deny.revoke_jti("ends-200", expires_at=NOW + 200)
    deny.revoke_jti("ends-10", expires_at=NOW + 10)

    assert deny.is_revoked(token(jti="ends-10", sub=None))
    assert deny.is_revoked(token(jti="ends-300", sub=None))
    assert not deny.is_revoked(token(jti="ends-200", sub=None))


def test_ended_entries_leave_before_live_ones_are_evicted() -> None:
    clock = Clock()
    deny = MemoryDenylist(max_entries=2, grace=0, clock=clock)
    deny.revoke_jti("short", expires_at=NOW + 10)
    deny.revoke_jti("long", expires_at=NOW + 1000)
    clock.now = NOW + 20
    deny.revoke_jti("new", expires_at=NOW + 500)
    assert deny.is_revoked(token(jti="long", sub=None))
    assert deny.is_revoked(token(jti="new", sub=None))


def test_stays_bounded_and_consistent_under_threads() -> None:
    deny = MemoryDenylist(max_entries=500, grace=0, clock=lambda: NOW)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(2000):
                deny.revoke_jti(f"{worker}-{i}", expires_at=NOW + 1 + i)
                deny.is_revoked(token(jti=f"{worker}-{i // 2}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(deny) == 500
    # The survivors are the entries that end last: i = 1999 of every worker, and so on.
    assert all(deny.is_revoked(token(jti=f"{w}-1999", sub=None)) for w in range(8))
    assert not any(deny.is_revoked(token(jti=f"{w}-0", sub=None)) for w in range(8))


def test_asyncio_tasks_share_one_denylist() -> None:
    deny = MemoryDenylist(clock=lambda: NOW)

    async def scenario() -> list[bool]:
        await asyncio.gather(*(deny.revoke_jti_async(f"t{i}") for i in range(100)))
        return await asyncio.gather(
            *(deny.is_revoked_async(token(jti=f"t{i}", sub=None)) for i in range(101))
        )

    answers = asyncio.run(scenario())
    assert answers == [True] * 100 + [False]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_entries": 0}, ValueError),
        ({"max_entries": 1.5}, TypeError),
        ({"grace": -1}, ValueError),
        ({"grace": float("nan")}, ValueError),
        ({"grace": "60"}, TypeError),
        ({"max_token_lifetime": 0}, ValueError),
        ({"clock": 5}, TypeError),
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        MemoryDenylist(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("revoke", ("not a token",), TypeError),
        ("revoke_jti", ("",), ValueError),
        ("revoke_jti", (5,), TypeError),
        ("revoke_jti", ("x", "tomorrow"), TypeError),
        ("revoke_jti", ("x", float("inf")), ValueError),
        ("revoke_subject", ("",), ValueError),
        ("revoke_subject", ("u", "yesterday"), TypeError),
    ],
)
def test_misuse_is_a_programming_error(method: str, args: tuple[object, ...], error: type) -> None:
    deny = MemoryDenylist(clock=lambda: NOW)
    with pytest.raises(error):
        getattr(deny, method)(*args)
    assert len(deny) == 0


def test_importing_the_package_and_the_module_never_imports_redis() -> None:
    code = (
        "import sys, accesstoken, accesstoken.revocation; "
        "from accesstoken.revocation import MemoryDenylist; MemoryDenylist(); "
        "sys.exit(1 if 'redis' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False)  # noqa: S603 - ours
    assert result.returncode == 0
