"""The authentication step every adapter calls, on both of its drivers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence

import pytest

from accesstoken import AccessToken, DPoP, ProtectedResource, TokenVerifier, Verifier, errors
from accesstoken._authenticate import Carried, Guard, Refusal, authenticate, authenticate_async
from accesstoken._dpop import RequestContext
from accesstoken.testing import DPoPKey, LocalIssuer

from ._support import Tokens

Outcome = AccessToken | Refusal | None
Step = Callable[..., Outcome]


@pytest.fixture(params=["sync", "async"])
def step(request: pytest.FixtureRequest) -> Step:
    """Return `step(verifier, guard, carried, scopes=(), context=None)` through one driver.

    `carried` here is the request's token values alone: the step adds `context` to them.
    """

    def run(
        verifier: Verifier,
        guard: Guard,
        carried: tuple[Sequence[str | bytes], str | bytes],
        scopes: Collection[str] = (),
        context: RequestContext | None = None,
    ) -> Outcome:
        with_context: Carried = (carried[0], carried[1], context)
        if request.param == "sync":
            return authenticate(verifier, guard, with_context, scopes)
        return asyncio.run(authenticate_async(verifier, guard, with_context, scopes))

    return run


def bearer(raw: str) -> tuple[list[bytes], bytes]:
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


# Sender-constrained tokens, step-up and resource metadata: what the guard adds.

ISSUER_ = LocalIssuer(algorithm="ES256")
DPOP_KEY = DPoPKey("ES256")
URL = "https://api.example.com/orders"
RESOURCE = ProtectedResource(
    "https://api.example.com/orders", authorization_servers=[ISSUER_.issuer]
)


def dpop_guard(**options: object) -> tuple[TokenVerifier, Guard]:
    verifier = ISSUER_.verifier(dpop=DPoP())
    return verifier, Guard(dpop=verifier._dpop, **options)  # type: ignore[arg-type]


def test_a_dpop_token_with_its_proof_is_accepted(step: Step) -> None:
    verifier, guard = dpop_guard()
    token = ISSUER_.issue(dpop_key=DPOP_KEY)
    request = RequestContext("GET", URL, DPOP_KEY.proof("GET", URL, access_token=token))
    outcome = step(verifier, guard, ([f"DPoP {token}"], ""), (), request)
    assert isinstance(outcome, AccessToken)
    assert outcome.raw == token


def test_a_dpop_token_sent_as_bearer_or_without_proof_is_refused(step: Step) -> None:
    verifier, guard = dpop_guard()
    token = ISSUER_.issue(dpop_key=DPOP_KEY)
    refusal = refused(step(verifier, guard, ([f"Bearer {token}"], "")), errors.InvalidToken)
    assert refusal.response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert ', DPoP algs="' in refusal.response.headers["WWW-Authenticate"]
    request = RequestContext("GET", URL)
    outcome = step(verifier, guard, ([f"DPoP {token}"], ""), (), request)
    challenge = refused(outcome, errors.InvalidDPoPProof).response.headers["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="invalid_dpop_proof"')
    assert challenge.endswith(", Bearer")


def test_the_dpop_scheme_is_another_scheme_without_dpop_options(
    step: Step, verifier: TokenVerifier
) -> None:
    refused(step(verifier, Guard(), (["DPoP abc"], "")), errors.MissingToken)


def test_resource_metadata_joins_401_and_403_challenges(step: Step) -> None:
    verifier, guard = dpop_guard(resource=RESOURCE)
    parameter = f'resource_metadata="{RESOURCE.metadata_url}"'
    missing = refused(step(verifier, guard, ([], "")), errors.MissingToken)
    assert missing.response.headers["WWW-Authenticate"] == (
        f'Bearer {parameter}, DPoP algs="{" ".join(DPoP().algorithms)}", {parameter}'
    )
    token = ISSUER_.issue(scopes=["a"])
    scoped = guard.demanding(("b",))
    insufficient = refused(
        step(verifier, scoped, ([f"Bearer {token}"], "")), errors.InsufficientScope
    )
    assert insufficient.response.status_code == 403
    assert parameter in insufficient.response.headers["WWW-Authenticate"]


def test_acr_values_and_max_age_reach_the_verifier(step: Step) -> None:
    verifier = ISSUER_.verifier()
    guard = Guard().demanding(acr_values="urn:mfa", max_age=60)
    token = ISSUER_.issue(acr="urn:pwd")
    refusal = refused(
        step(verifier, guard, ([f"Bearer {token}"], "")), errors.InsufficientUserAuthentication
    )
    assert 'acr_values="urn:mfa"' in refusal.response.headers["WWW-Authenticate"]


def test_a_verifier_taking_only_raw_and_scopes_still_works(step: Step, tokens: Tokens) -> None:
    class Plain:
        def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
            return AccessToken(str(raw), {"alg": "none"}, {"sub": "x"})

        async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
            return self.verify(raw, scopes)

    assert isinstance(step(Plain(), Guard(), bearer(tokens.reader)), AccessToken)


def test_the_url_is_the_public_one_behind_a_proxy() -> None:
    assert Guard().url("http", "testserver", "/a%2Fb", "x=1") == "http://testserver/a%2Fb?x=1"
    public = Guard(public_url="https://api.example.com/")
    assert public.url("http", "internal:8000", "/orders") == "https://api.example.com/orders"


def test_several_dpop_lines_are_joined_for_the_verifier_to_refuse() -> None:
    from accesstoken._bearer import join_dpop

    assert join_dpop([]) is None
    assert join_dpop([b"a.b.c", "d.e.f"]) == "a.b.c, d.e.f"
