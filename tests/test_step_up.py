"""Step-up authentication (RFC 9470): `acr` and `auth_time` against what a call demands."""

from __future__ import annotations

from typing import Any

import pytest

from accesstoken import InsufficientUserAuthentication, InvalidToken
from accesstoken._step_up import check_step_up, step_up_demand

NOW = 1_700_000_000.0
LEEWAY = 60.0
MFA = "urn:example:mfa"
PASSWORD = "urn:example:pwd"


def refused(
    claims: dict[str, Any], acr_values: Any = (), max_age: Any = None
) -> InsufficientUserAuthentication:
    with pytest.raises(InsufficientUserAuthentication) as caught:
        check_step_up(claims, acr_values, max_age, NOW, LEEWAY)
    return caught.value


def test_nothing_demanded_nothing_checked() -> None:
    check_step_up({}, (), None, NOW, LEEWAY)
    check_step_up({"acr": ["odd"], "auth_time": "yesterday"}, (), None, NOW, LEEWAY)


@pytest.mark.parametrize("acr_values", [(MFA,), [PASSWORD, MFA], MFA, {MFA}])
def test_an_acr_among_the_demanded_ones_passes(acr_values: Any) -> None:
    check_step_up({"acr": MFA}, acr_values, None, NOW, LEEWAY)


@pytest.mark.parametrize(
    "acr",
    [None, PASSWORD, MFA.upper(), MFA + " ", "urn:example", [MFA], {"value": MFA}, 1],
    ids=repr,
)
def test_any_other_acr_is_insufficient(acr: Any) -> None:
    claims = {} if acr is None else {"acr": acr}
    error = refused(claims, (MFA,))
    assert error.acr_values == (MFA,)
    assert error.max_age is None
    assert error.www_authenticate().endswith(f'acr_values="{MFA}"')


def test_acr_values_as_one_string_is_one_value() -> None:
    check_step_up({"acr": "a b"}, "a b", None, NOW, LEEWAY)
    assert refused({"acr": "a"}, "a b").acr_values == ("a b",)


@pytest.mark.parametrize(
    "auth_time",
    [NOW, NOW - 300, NOW - 300 - LEEWAY, NOW + LEEWAY, int(NOW) - 100, NOW - 360.0],
)
def test_a_recent_enough_authentication_passes(auth_time: float) -> None:
    check_step_up({"auth_time": auth_time}, (), 300, NOW, LEEWAY)


@pytest.mark.parametrize(
    "auth_time",
    [
        NOW - 300 - LEEWAY - 0.001,  # too old, even with the leeway
        NOW + LEEWAY + 0.001,  # in the future, beyond the leeway
        None,  # absent
        str(int(NOW)),
        True,
        float("nan"),
        [NOW],
        -1,
    ],
    ids=repr,
)
def test_an_old_absent_or_invalid_auth_time_is_insufficient(auth_time: Any) -> None:
    claims = {} if auth_time is None else {"auth_time": auth_time}
    error = refused(claims, max_age=300)
    assert error.max_age == 300
    assert error.acr_values == ()
    assert error.www_authenticate().endswith('max_age="300"')


def test_max_age_zero_means_just_now() -> None:
    check_step_up({"auth_time": NOW - LEEWAY}, (), 0, NOW, LEEWAY)
    refused({"auth_time": NOW - LEEWAY - 1}, max_age=0)


def test_the_refusal_carries_every_demand_whichever_was_missed() -> None:
    fresh_weak = {"acr": PASSWORD, "auth_time": NOW}
    strong_old = {"acr": MFA, "auth_time": NOW - 3600}
    for claims in (fresh_weak, strong_old):
        error = refused(claims, (MFA,), 300)
        assert (error.acr_values, error.max_age) == ((MFA,), 300)
        assert error.www_authenticate().endswith(f'acr_values="{MFA}", max_age="300"')
    check_step_up({"acr": MFA, "auth_time": NOW}, (MFA,), 300, NOW, LEEWAY)


def test_insufficient_user_authentication_is_not_an_invalid_token() -> None:
    error = refused({}, (MFA,))
    assert not isinstance(error, InvalidToken)  # the token is fine; the login is not enough
    assert (error.status_code, error.error) == (401, "insufficient_user_authentication")


@pytest.mark.parametrize(
    ("acr_values", "max_age", "error"),
    [
        ((1,), None, TypeError),
        (("",), None, ValueError),
        ((), -1, ValueError),
        ((), float("nan"), ValueError),
        ((), "300", TypeError),
        ((), True, TypeError),
    ],
)
def test_a_bad_demand_is_the_programmers_error(
    acr_values: Any, max_age: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        check_step_up({}, acr_values, max_age, NOW, LEEWAY)


def test_step_up_demand_normalizes() -> None:
    assert step_up_demand("urn:a", 300) == (("urn:a",), 300.0)
    assert step_up_demand(["urn:a", "urn:b"], None) == (("urn:a", "urn:b"), None)
