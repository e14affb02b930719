"""The claim rules, as pure functions given plain claims and plain numbers."""

from __future__ import annotations

from typing import Any

import pytest

from accesstoken import InvalidClaim, TokenExpired, TokenNotYetValid
from accesstoken._claims import MAX_TIMESTAMP, check_strings, check_times, read_date


@pytest.mark.parametrize("value", [0, 1_700_000_000, MAX_TIMESTAMP, 1.5, 1e9])
def test_read_date_returns_a_numeric_date(value: float) -> None:
    assert read_date({"exp": value}, "exp") == value


def test_read_date_of_an_absent_claim_is_none() -> None:
    assert read_date({}, "exp") is None


@pytest.mark.parametrize(
    "value", [None, True, False, "1", -1, MAX_TIMESTAMP + 1, float("nan"), float("inf"), [1]]
)
def test_read_date_refuses_what_is_not_a_numeric_date(value: Any) -> None:
    with pytest.raises(InvalidClaim) as info:
        read_date({"nbf": value}, "nbf")
    assert '"nbf"' in info.value.description


def test_check_times_uses_one_leeway_for_every_date() -> None:
    check_times({"exp": 100, "nbf": 110, "iat": 110}, now=129.5, leeway=30)
    with pytest.raises(TokenExpired):
        check_times({"exp": 100}, now=130, leeway=30)
    with pytest.raises(TokenNotYetValid):
        check_times({"nbf": 111}, now=80, leeway=30)
    with pytest.raises(TokenNotYetValid, match="issued in the future"):
        check_times({"iat": 111}, now=80, leeway=30)
    check_times({"nbf": 110, "iat": 110}, now=80, leeway=30)
    check_times({}, now=10**12, leeway=0)


@pytest.mark.parametrize("name", ["sub", "jti", "client_id", "azp"])
def test_check_strings_names_the_claim_of_the_wrong_type(name: str) -> None:
    check_strings({"sub": "a", "jti": "b", "client_id": "c", "azp": "d", "other": 1})
    with pytest.raises(InvalidClaim) as info:
        check_strings({"sub": "a", name: None})
    assert f'"{name}"' in info.value.description
