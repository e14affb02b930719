"""Properties over untrusted input: only TokenError comes out, and no forgery goes in."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accesstoken import HMACSecret, TokenError, TokenVerifier
from accesstoken._json import ReadOnlyDict, ReadOnlyList, loads_strict
from accesstoken._pipeline import _b64decode
from accesstoken.errors import MalformedToken
from tests._mutations import B64_CHARS, mutations
from tests.conftest import AUDIENCE, ISSUER, NOW, b64, claims, make_verifier, mint

SECRET = b"p" * 32
HS = TokenVerifier(HMACSecret(SECRET), issuer=ISSUER, audience=AUDIENCE, clock=lambda: NOW)
RS = make_verifier("RS256", "ES256")
VALID_RS = mint("RS256")
VALID_ES = mint("ES256")

settings.register_profile("ci", max_examples=300, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


def outcome(verifier: TokenVerifier, raw: str | bytes) -> str:
    """Return "ok" or the name of the TokenError; anything else propagates and fails."""
    try:
        verifier.verify(raw)
    except TokenError as exc:
        sync = type(exc).__name__
    else:
        sync = "ok"
    try:
        asyncio.run(verifier.verify_async(raw))
    except TokenError as exc:
        asynchronous = type(exc).__name__
    else:
        asynchronous = "ok"
    assert asynchronous == sync, "sync and async paths disagree"
    return sync


@given(st.binary(max_size=2000))
@example(b"")
@example(b"..")
@example(b"\x00.\x00.\x00")
def test_any_bytes_raise_only_token_errors(raw: bytes) -> None:
    assert outcome(RS, raw) != "ok"


@given(st.text(max_size=2000))
@example("Bearer ")
@example("bearer a.b.c")
def test_any_text_raises_only_token_errors(raw: str) -> None:
    assert outcome(RS, raw) != "ok"


@given(st.lists(st.text(alphabet=B64_CHARS, max_size=200), min_size=1, max_size=6))
def test_dotted_base64url_segments_raise_only_token_errors(segments: list[str]) -> None:
    assert outcome(RS, ".".join(segments)) != "ok"


@given(st.binary(max_size=64), st.integers(0, 65), st.binary(min_size=1, max_size=2))
@example(b"abc", 4, b"=")
@example(b"abcd", 2, b"+")
@example(b"ab", 1, b" ")
def test_only_the_one_base64url_form_of_some_bytes_decodes(
    data: bytes, at: int, inserted: bytes
) -> None:
    """Each segment is decoded strictly: whatever decodes is the canonical base64url form of
    what it decodes to; no padding, no character outside the alphabet, no stray bit."""
    encoded = base64.urlsafe_b64encode(data).rstrip(b"=")
    assert _b64decode(encoded) == data
    for candidate in (
        encoded[:at] + inserted + encoded[at:],  # a character more
        encoded[:at] + inserted + encoded[at + len(inserted) :],  # one or two replaced
        encoded + b"=" * (-len(encoded) % 4),  # padded
    ):
        try:
            decoded = _b64decode(candidate)
        except MalformedToken:
            continue
        assert base64.urlsafe_b64encode(decoded).rstrip(b"=") == candidate


@given(mutations([VALID_RS, VALID_ES]))
def test_a_mutated_token_is_never_accepted(mutated: str) -> None:
    result = outcome(RS, mutated)
    if mutated in (VALID_RS, VALID_ES):
        assert result == "ok"
    else:
        assert result != "ok"


def json_values(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | floats | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=20,
    )


JSON = json_values(st.floats(allow_nan=False))
CLAIM_NAMES = st.sampled_from(
    ["iss", "aud", "sub", "exp", "nbf", "iat", "scope", "scp", "roles", "jti", "client_id", "azp"]
)


@given(
    st.dictionaries(CLAIM_NAMES, JSON, max_size=6),
    st.dictionaries(st.text(max_size=5), JSON, max_size=3),
)
def test_odd_claims_behind_a_valid_signature(
    overrides: dict[str, Any], header_extra: dict[str, Any]
) -> None:
    payload = claims(**overrides)
    header = {**header_extra, "alg": "HS256"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    raw = f"{signing_input}.{b64(mac)}"
    result = outcome(HS, raw)
    if result == "ok":
        token = HS.verify(raw)
        assert token.issuer == ISSUER
        assert AUDIENCE in token.audience
        assert all(isinstance(scope, str) for scope in token.scopes)
        assert all(isinstance(role, str) for role in token.roles)


FINITE_JSON = json_values(st.floats(allow_nan=False, allow_infinity=False))


@given(st.dictionaries(st.text(max_size=8), FINITE_JSON, max_size=6), st.sampled_from([None, 1]))
def test_parsed_json_is_equal_and_read_only_inside(document: dict[str, Any], indent: Any) -> None:
    # Claims and headers are shared between requests (cache_size, the header memo): no
    # object or array inside what the parser returns may be changeable.
    text = json.dumps(document, indent=indent)
    parsed = loads_strict(text.encode())
    assert parsed == json.loads(text)
    pending: list[Any] = [parsed]
    while pending:
        value = pending.pop()
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            if isinstance(item, dict | list):
                assert type(item) in (ReadOnlyDict, ReadOnlyList)
                pending.append(item)
