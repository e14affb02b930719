"""`MultiIssuerVerifier`: selection by `iss`, never trust across issuers, lazy discovery."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accesstoken import (
    InvalidIssuer,
    InvalidSignature,
    MalformedToken,
    MissingClaim,
    MultiIssuerVerifier,
    TokenError,
    UnknownKey,
    Verifier,
)
from accesstoken.testing import LocalIssuer

A = LocalIssuer(issuer="https://a.example.com/", audience="api")
B = LocalIssuer(algorithm="ES256", issuer="https://b.example.com/", audience="api")


@pytest.fixture(params=["sync", "async"])
def check(request: pytest.FixtureRequest) -> object:
    def run(verifier: Verifier, raw: str) -> object:
        if request.param == "sync":
            return verifier.verify(raw)
        return asyncio.run(verifier.verify_async(raw))

    return run


def exact() -> MultiIssuerVerifier:
    return MultiIssuerVerifier({A.issuer: A.verifier(), B.issuer: B.verifier()})


def test_each_issuer_is_verified_by_its_own_verifier(check) -> None:  # type: ignore[no-untyped-def]
    verifier = exact()
    assert check(verifier, A.issue(subject="from-a")).subject == "from-a"
    assert check(verifier, B.issue(subject="from-b")).subject == "from-b"


def test_a_key_of_one_issuer_never_verifies_a_token_naming_another(check) -> None:  # type: ignore[no-untyped-def]
    verifier = exact()
    with pytest.raises((UnknownKey, InvalidSignature)):
        check(verifier, A.issue(iss=B.issuer))  # A's key, B's name
    with pytest.raises((UnknownKey, InvalidSignature)):
        check(verifier, B.issue(iss=A.issuer))


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"iss": "https://c.example.com/"}, InvalidIssuer),
        ({"iss": "https://a.example.com"}, InvalidIssuer),  # no trailing slash: not equal
        ({"iss": None}, MissingClaim),
        ({"iss": 7}, InvalidIssuer),
        ({"iss": ["https://a.example.com/"]}, InvalidIssuer),
    ],
)
def test_an_issuer_that_is_not_configured_is_refused(check, claims: dict, error: type) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        check(exact(), A.issue(**claims))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("not-a-token", MalformedToken),
        ("a.b.c.d.e", MalformedToken),
        ("eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.sig", MalformedToken),
        ("x" * 9000, MalformedToken),
        ("é.é.é", MalformedToken),
    ],
)
def test_malformed_input_fails_as_a_token_verifier_would(check, raw: str, error: type) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        check(exact(), raw)


def cached() -> MultiIssuerVerifier:
    return MultiIssuerVerifier(
        {A.issuer: A.verifier(cache_size=8), B.issuer: B.verifier(cache_size=8)}
    )


def test_a_token_seen_again_is_remembered_and_a_refused_one_is_not(check) -> None:  # type: ignore[no-untyped-def]
    """Remembered for a verifier with a cache: it answers a token seen again unparsed."""
    of_a, of_b = A.verifier(cache_size=8), B.verifier(cache_size=8)
    verifier = MultiIssuerVerifier({A.issuer: of_a, B.issuer: of_b})
    good, forged = A.issue(subject="again"), A.issue(iss=B.issuer)  # forged: A's key, B's name
    for _ in range(3):
        assert check(verifier, good).subject == "again"
        assert check(verifier, "Bearer " + good).subject == "again"
        with pytest.raises((UnknownKey, InvalidSignature)):
            check(verifier, forged)
    assert list(verifier._chosen) == [good]
    assert len(of_a._cache) == 1  # type: ignore[arg-type]
    assert len(of_b._cache) == 0  # type: ignore[arg-type]


def test_nothing_is_remembered_for_a_verifier_without_a_cache(check) -> None:  # type: ignore[no-untyped-def]
    """It is handed the parse, which is all a memo would save it."""
    verifier = exact()
    raw = A.issue(subject="again")
    for _ in range(2):
        assert check(verifier, raw).subject == "again"
    assert not verifier._chosen


def test_the_tokens_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("accesstoken._multi._CHOSEN_MEMO_SIZE", 2)
    verifier = cached()
    for number in range(5):
        assert verifier.verify(A.issue(subject=f"user{number}")).subject == f"user{number}"
        assert 1 <= len(verifier._chosen) <= 2


def test_a_verifier_of_another_kind_gets_the_raw_token_and_is_remembered(check) -> None:  # type: ignore[no-untyped-def]
    class Recording:
        def __init__(self) -> None:
            self.seen: list[str | bytes] = []

        def verify(self, raw: str | bytes, scopes: object = ()) -> object:
            self.seen.append(raw)
            return A.verifier().verify(raw)

        async def verify_async(self, raw: str | bytes, scopes: object = ()) -> object:
            return self.verify(raw, scopes)

    own = Recording()
    verifier = MultiIssuerVerifier({A.issuer: own, B.issuer: B.verifier()})  # type: ignore[dict-item]
    raw = "Bearer " + A.issue(subject="own")
    for _ in range(2):
        assert check(verifier, raw).subject == "own"
    assert own.seen == [raw, raw]
    assert list(verifier._chosen) == [raw.removeprefix("Bearer ")]


def test_the_selected_verifier_still_enforces_its_own_size_limit(check) -> None:  # type: ignore[no-untyped-def]
    raw = A.issue()
    small = MultiIssuerVerifier({A.issuer: A.verifier(max_token_bytes=len(raw) - 1)})
    with pytest.raises(MalformedToken, match="too large"):
        check(small, raw)
    assert check(MultiIssuerVerifier({A.issuer: A.verifier(max_token_bytes=len(raw))}), raw)


def test_the_bearer_prefix_is_accepted(check) -> None:  # type: ignore[no-untyped-def]
    assert check(exact(), "Bearer " + A.issue()).issuer == A.issuer


# -- from_discovery ---------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[LocalIssuer, LocalIssuer]]:
    first, second = LocalIssuer(audience="api"), LocalIssuer(algorithm="ES256", audience="api")
    with ExitStack() as stack:
        stack.enter_context(first.serve())
        stack.enter_context(second.serve())
        yield first, second


def test_discovery_happens_on_the_first_token_of_each_issuer(served, check) -> None:  # type: ignore[no-untyped-def]
    first, second = served
    verifier = MultiIssuerVerifier.from_discovery([first.issuer, second.issuer], audience="api")
    assert sum(first.requests.values()) + sum(second.requests.values()) == 0
    assert check(verifier, first.issue()).issuer == first.issuer
    assert sum(second.requests.values()) == 0
    assert check(verifier, second.issue()).issuer == second.issuer
    assert first.requests["/.well-known/openid-configuration"] == 1
    assert second.requests["/.well-known/openid-configuration"] == 1


def test_an_unconfigured_issuer_costs_no_request_ever(served, check) -> None:  # type: ignore[no-untyped-def]
    first, second = served
    verifier = MultiIssuerVerifier.from_discovery([first.issuer], audience="api")
    for _ in range(3):
        with pytest.raises(InvalidIssuer):
            check(verifier, second.issue())  # a real, served issuer, but not configured here
    assert sum(first.requests.values()) + sum(second.requests.values()) == 0


def test_a_hundred_threads_build_one_verifier_and_make_one_discovery(served) -> None:  # type: ignore[no-untyped-def]
    first, _ = served
    verifier = MultiIssuerVerifier.from_discovery([first.issuer], audience="api")
    raw = first.issue()
    gate = threading.Barrier(100)
    subjects: list[str | None] = []

    def caller() -> None:
        gate.wait()
        subjects.append(verifier.verify(raw).subject)

    threads = [threading.Thread(target=caller) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert subjects == ["user"] * 100
    assert first.requests["/.well-known/openid-configuration"] == 1
    assert first.requests["/jwks.json"] == 1


def test_a_hundred_tasks_build_one_verifier_and_make_one_discovery(served) -> None:  # type: ignore[no-untyped-def]
    first, _ = served
    verifier = MultiIssuerVerifier.from_discovery([first.issuer], audience="api")
    raw = first.issue()

    async def main() -> list[str | None]:
        tokens = await asyncio.gather(*(verifier.verify_async(raw) for _ in range(100)))
        return [token.subject for token in tokens]

    assert asyncio.run(main()) == ["user"] * 100
    assert first.requests["/.well-known/openid-configuration"] == 1
    assert first.requests["/jwks.json"] == 1


def test_discovery_options_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="https"):
        MultiIssuerVerifier.from_discovery(["http://idp.example.com/"], audience="api")
    with pytest.raises(ValueError, match="timeout"):
        MultiIssuerVerifier.from_discovery(["https://a/"], audience="api", timeout=0)
    with pytest.raises(ValueError, match="leeway"):
        MultiIssuerVerifier.from_discovery(["https://a/"], audience="api", leeway=-1)
    with pytest.raises(TypeError):
        MultiIssuerVerifier.from_discovery("https://a/", audience="api")


# -- from_template ----------------------------------------------------------------------------

TEMPLATE = "https://login.example.com/{tenant}/v2.0"
TENANTS = LocalIssuer(algorithm="HS256", issuer="unused", audience="api")


def templated(**options: object) -> MultiIssuerVerifier:
    return MultiIssuerVerifier.from_template(
        TEMPLATE, keys=TENANTS.key_source(), audience="api", **options
    )


def tenant_token(tenant: str, **claims: object) -> str:
    return TENANTS.issue(**{"iss": TEMPLATE.replace("{tenant}", tenant), "tid": tenant, **claims})


def test_a_tenant_whose_issuer_and_claim_agree_is_accepted(check) -> None:  # type: ignore[no-untyped-def]
    token = check(templated(), tenant_token("contoso-1"))
    assert token.issuer == "https://login.example.com/contoso-1/v2.0"


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"tid": "fabrikam"}, InvalidIssuer),  # the issuer names another tenant
        ({"tid": None}, MissingClaim),
        ({"iss": "https://login.example.com/a/b/v2.0", "tid": "a/b"}, InvalidIssuer),
        ({"iss": "https://login.example.com//v2.0", "tid": ""}, InvalidIssuer),
        ({"iss": "https://evil.example.com/contoso/v2.0"}, InvalidIssuer),
    ],
)
def test_a_tenant_that_does_not_fit_is_refused(check, claims: dict, error: type) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        check(templated(), tenant_token("contoso", **claims))


def test_the_tenant_allow_list_restricts_the_tenants(check) -> None:  # type: ignore[no-untyped-def]
    verifier = templated(tenants=["contoso"])
    assert check(verifier, tenant_token("contoso")).claims["tid"] == "contoso"
    with pytest.raises(InvalidIssuer):
        check(verifier, tenant_token("fabrikam"))


@pytest.mark.parametrize("template", ["https://x/v2.0", "https://x/{tenant}/{tenant}", "{tenants}"])
def test_a_template_needs_exactly_one_placeholder(template: str) -> None:
    with pytest.raises(ValueError, match="placeholder"):
        MultiIssuerVerifier.from_template(template, keys=TENANTS.key_source(), audience="api")


def test_allowed_tenants_must_fit_the_placeholder() -> None:
    with pytest.raises(ValueError, match="tenant"):
        templated(tenants=["a/b"])


TENANT_RULE = re.compile(r"[A-Za-z0-9._-]{1,64}")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_a_tenant_value_is_accepted_exactly_when_it_fits_the_placeholder(value: str) -> None:
    raw = tenant_token(value)
    if TENANT_RULE.fullmatch(value):
        assert templated().verify(raw).claims["tid"] == value
    else:
        with pytest.raises(TokenError):
            templated().verify(raw)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_input_ends_in_a_token_error_and_nothing_else(raw: str | bytes) -> None:
    with pytest.raises(TokenError):
        exact().verify(raw)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.recursive(st.none() | st.integers(), st.lists)))
def test_any_unverified_payload_ends_in_a_token_error(claims: dict) -> None:  # type: ignore[type-arg]
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        exact().verify(f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln")


# -- selection and verification read one strict parse --------------------------------------

H = LocalIssuer("HS256", issuer="https://h.example.com/", audience="api")
H_HEADER = H.issue().split(".")[0]


def signed(payload: str) -> str:
    """Return a token of H over the exact payload text (duplicates, escapes and all)."""
    body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    signing_input = f"{H_HEADER}.{body}"
    digest = hmac.digest(H.secret, signing_input.encode(), "sha256")
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def with_h() -> MultiIssuerVerifier:
    return MultiIssuerVerifier({H.issuer: H.verifier(), A.issuer: A.verifier()})


def test_an_escaped_issuer_selects_the_issuer_it_means(check) -> None:  # type: ignore[no-untyped-def]
    exp = int(time.time()) + 300
    raw = signed(f'{{"iss":"https:\\/\\/h.example.com\\/","aud":"api","exp":{exp}}}')
    assert check(with_h(), raw).issuer == H.issuer


@pytest.mark.parametrize("order", [(H.issuer, A.issuer), (A.issuer, H.issuer), (H.issuer,) * 2])
def test_duplicate_issuers_are_refused_before_selection(check, order: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    exp = int(time.time()) + 300
    first, second = (json.dumps(iss) for iss in order)
    raw = signed(f'{{"iss":{first},"aud":"api","exp":{exp},"iss":{second}}}')
    verifier = MultiIssuerVerifier({H.issuer: H.verifier(cache_size=8), A.issuer: A.verifier()})
    with pytest.raises(MalformedToken):
        check(verifier, raw)
    assert not verifier._chosen


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ISSUERS = st.sampled_from([H.issuer, A.issuer, "https://c.example.com/", None, 7, [H.issuer]])


def outcome(call: Callable[[], object]) -> object:
    try:
        return dict(call().claims)  # type: ignore[attr-defined]
    except TokenError as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(
    ISSUERS,
    st.lists(st.tuples(st.sampled_from(["iss", "tid", "x", "iss "]), JSON | ISSUERS), max_size=3),
    st.sampled_from([(",", ":"), (", ", ": ")]),
)
def test_selection_never_disagrees_with_the_verifier_of_the_issuer_it_names(
    iss: object, members: list[tuple[str, object]], separators: tuple[str, str]
) -> None:
    """Duplicate members included: the one strict parse refuses them before selection."""
    comma, colon = separators
    pairs = [("iss", iss), ("aud", "api"), ("exp", int(time.time()) + 300), *members]
    payload = "{" + comma.join(f"{json.dumps(k)}{colon}{json.dumps(v)}" for k, v in pairs) + "}"
    raw = signed(payload)
    got = outcome(lambda: with_h().verify(raw))
    if len({name for name, _ in pairs}) < len(pairs):
        assert got is MalformedToken
        return
    claims = dict(pairs)
    if claims["iss"] is None:
        assert got is MissingClaim
    elif claims["iss"] == H.issuer:
        assert got == outcome(lambda: H.verifier().verify(raw))
    elif claims["iss"] == A.issuer:
        assert got in (UnknownKey, InvalidSignature)  # H's key, A's name
    else:
        assert got is InvalidIssuer
