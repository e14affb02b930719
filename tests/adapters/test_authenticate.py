"""The authentication step every adapter calls, on both of its drivers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

import pytest

from accesstoken import AccessToken, TokenVerifier, Verifier, errors
from accesstoken._authenticate import Carried, Guard, Refusal, authenticate, authenticate_async

from ._support import Tokens

Outcome = AccessToken | Refusal | None
Step = Callable[..., Outcome]


@pytest.fixture(params=["sync", "async"])
def step(request: pytest.FixtureRequest) -> Step:
    """Return `step(verifier, guard, carried, scopes=())` through one of the two drivers."""

    def run(
        verifier: Verifier, guard: Guard, carried: Carried, scopes: Collection[str] = ()
    ) -> Outcome:
        if request.param == "sync":
            return authenticate(verifier, guard, carried, scopes)
        return asyncio.run(authenticate_async(verifier, guard, carried, scopes))

    return run


def bearer(raw: str) -> Carried:
    return ([b"Bearer " + raw.encode()], b"")


def refused(outcome: Outcome, error: type[Exception]) -> Refusal:
    assert isinstance(outcome, Refusal)
    assert type(outcome.error) is error
    return outcome


def test_a_valid_token_is_returned(step: Step, verifier: TokenVerifier, tokens: Tokens) -> None:
    token = step(verifier, Guard(), bearer(tokens.reader))
    assert isinstance(token, AccessToken)
    assert token.raw == tokens.reader


def test_no_token_is_refused_unless_optional(step: Step, verifier: TokenVerifier) -> None:
    refusal = refused(step(verifier, Guard(realm="orders"), ([], b"")), errors.MissingToken)
    assert refusal.response.status_code == 401
    assert refusal.response.headers == {"WWW-Authenticate": 'Bearer realm="orders"'}
    assert step(verifier, Guard(optional=True), ([], b"")) is None
    assert step(verifier, Guard(optional=True), (["Basic dXNlcjpwYXNz"], "")) is None


def test_optional_never_excuses_a_bad_or_malformed_token(
    step: Step, verifier: TokenVerifier, tokens: Tokens
) -> None:
    optional = Guard(optional=True)
    refused(step(verifier, optional, bearer(tokens.expired)), errors.TokenExpired)
    refused(step(verifier, optional, (["Bearer a b"], b"")), errors.InvalidRequest)
    refused(step(verifier, optional, ([], b"access_token=abc")), errors.InvalidRequest)


def test_the_guard_and_the_call_demand_scopes_together(
    step: Step, verifier: TokenVerifier, tokens: Tokens
) -> None:
    guard = Guard().demanding(("orders:read",))
    assert isinstance(step(verifier, guard, bearer(tokens.reader)), AccessToken)
    refusal = refused(
        step(verifier, guard, bearer(tokens.reader), ["orders:write"]), errors.InsufficientScope
    )
    assert refusal.response.status_code == 403
    assert 'scope="orders:read orders:write"' in refusal.response.headers["WWW-Authenticate"]


def test_roles_are_demanded_after_verification(
    step: Step, verifier: TokenVerifier, tokens: Tokens
) -> None:
    guard = Guard().demanding(roles=("admin",))
    refused(step(verifier, guard, bearer(tokens.reader)), errors.Forbidden)
    assert isinstance(step(verifier, guard, bearer(tokens.admin)), AccessToken)
    refused(step(verifier, guard, bearer(tokens.expired)), errors.TokenExpired)


def test_an_outage_is_a_503_refusal(
    step: Step, down_verifier: TokenVerifier, tokens: Tokens
) -> None:
    refusal = refused(
        step(down_verifier, Guard(), bearer(tokens.reader)), errors.KeySourceUnavailable
    )
    assert refusal.response.status_code == 503
    assert "WWW-Authenticate" not in refusal.response.headers


class Broken:
    """A verifier with a bug: what it raises is not a reason to refuse a token."""

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        raise ZeroDivisionError

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        raise ZeroDivisionError


def test_a_bug_is_not_turned_into_a_refusal(step: Step, tokens: Tokens) -> None:
    with pytest.raises(ZeroDivisionError):
        step(Broken(), Guard(), bearer(tokens.reader))


def test_demanding_adds_to_a_guard_without_changing_it() -> None:
    guard = Guard(realm="orders").demanding(("a",), ("admin",))
    assert guard.demanding(("b",), optional=True) == Guard(("a", "b"), ("admin",), True, "orders")
    assert guard == Guard(("a",), ("admin",), False, "orders")
