"""`request=`, `acr_values=` and `max_age=` through every verifier, sync and async."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from accesstoken import (
    DPoP,
    InsufficientUserAuthentication,
    InvalidDPoPProof,
    InvalidToken,
    MultiIssuerVerifier,
    RequestContext,
    TokenRouter,
    Verifier,
    events,
)
from accesstoken.testing import DPoPKey, LocalIssuer

URL = "https://api.example.com/orders"
IDP = LocalIssuer(audience="api")
KEY = DPoPKey()

Check = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def check(request: pytest.FixtureRequest) -> Check:
    def run(verifier: Verifier, raw: str, **context: Any) -> Any:
        if request.param == "sync":
            return verifier.verify(raw, **context)
        return asyncio.run(verifier.verify_async(raw, **context))

    return run


def proof_for(raw: str, method: str = "GET") -> RequestContext:
    return RequestContext(method, URL, dpop_proof=KEY.proof(method, URL, access_token=raw))


@pytest.mark.parametrize("cache_size", [0, 16])
def test_a_bound_token_needs_a_fresh_proof_on_every_call(check: Check, cache_size: int) -> None:
    verifier = IDP.verifier(dpop=DPoP(), cache_size=cache_size)
    raw = IDP.issue(dpop_key=KEY)
    request = proof_for(raw)
    assert check(verifier, f"DPoP {raw}", request=request).claims["cnf"] == KEY.cnf
    with pytest.raises(InvalidDPoPProof):  # a cache hit still checks the (replayed) proof
        check(verifier, f"DPoP {raw}", request=request)
    assert check(verifier, f"DPoP {raw}", request=proof_for(raw)).raw == raw


def test_a_bound_token_is_never_a_bearer_token(check: Check) -> None:
    raw = IDP.issue(dpop_key=KEY)
    with pytest.raises(InvalidToken):
        check(IDP.verifier(dpop=DPoP()), f"Bearer {raw}", request=proof_for(raw))
    with pytest.raises(InvalidToken):
        check(IDP.verifier(), f"DPoP {raw}", request=proof_for(raw))  # no dpop= at all


def test_step_up_demands_reach_the_verifier(check: Check) -> None:
    verifier = IDP.verifier()
    strong = IDP.issue(acr="urn:example:mfa")
    assert check(verifier, strong, acr_values=("urn:example:mfa",)).raw == strong
    with pytest.raises(InsufficientUserAuthentication) as refused:
        check(verifier, IDP.issue(acr="urn:example:pwd"), acr_values=("urn:example:mfa",))
    assert 'acr_values="urn:example:mfa"' in refused.value.www_authenticate()
    with pytest.raises(InsufficientUserAuthentication):
        check(verifier, IDP.issue(), max_age=300)  # no auth_time at all


def test_routers_and_multi_issuer_verifiers_pass_the_request_on(check: Check) -> None:
    inner = IDP.verifier(dpop=DPoP())
    raw = IDP.issue(dpop_key=KEY)
    for outer in (TokenRouter(jwt=inner), MultiIssuerVerifier({IDP.issuer: inner})):
        assert check(outer, f"DPoP {raw}", request=proof_for(raw)).raw == raw
        with pytest.raises(InvalidDPoPProof):
            check(outer, f"DPoP {raw}")
        with pytest.raises(InsufficientUserAuthentication):
            check(outer, IDP.issue(), acr_values=("urn:example:mfa",))


def test_introspection_answers_bind_opaque_tokens_too(check: Check) -> None:
    idp = LocalIssuer(audience="api")
    idp.add_client("rs", "secret")
    with idp.serve():
        verifier = idp.introspection_verifier("rs", "secret", dpop=DPoP())
        raw = idp.issue_opaque(dpop_key=KEY)
        assert check(verifier, f"DPoP {raw}", request=proof_for(raw)).raw == raw
        with pytest.raises(InvalidToken):
            check(verifier, f"Bearer {raw}")


def test_one_event_per_call_from_the_verifier_the_caller_called(check: Check) -> None:
    inner = IDP.verifier()
    outer = MultiIssuerVerifier({IDP.issuer: inner})
    seen: list[events.Event] = []
    with events.subscribe(seen.append):
        check(outer, IDP.issue())
        with pytest.raises(InvalidToken):
            check(outer, IDP.issue(expires_in=-300))
        check(inner, IDP.issue())
    kinds = [(type(event).__name__, event.source) for event in seen]
    assert kinds == [
        ("TokenAccepted", outer),
        ("TokenRejected", outer),
        ("TokenAccepted", inner),
    ]
    assert all(event.duration >= 0 for event in seen)  # type: ignore[attr-defined]
    assert IDP.issue() not in repr(seen)


def test_a_refused_token_is_logged_at_debug_with_its_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="accesstoken")
    with pytest.raises(InvalidToken):
        IDP.verifier().verify(IDP.issue(expires_in=-300))
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "DEBUG"]
    assert line == "token refused: TokenExpired: The access token has expired."
