"""Properties over untrusted DPoP input: only TokenError comes out, and no altered proof goes in.

The proof, the request's method and URL (built from the `Host` header an attacker sends) and
the certificate all come from the client; `cnf`, `acr` and `auth_time` come from a token whose
signature holds, but from an issuer this library does not control.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from accesstoken import (
    DPoP,
    InsufficientUserAuthentication,
    RequestContext,
    TokenError,
)
from accesstoken._dpop import DPOP, _normal_target, _target
from accesstoken._remote.flow import run, run_async
from accesstoken._step_up import check_step_up
from accesstoken.testing import DPoPKey
from tests._dpop_flow import check_binding
from tests._mutations import B64_CHARS, mutations
from tests.conftest import NOW

KEY = DPoPKey("ES256")
URL = "https://api.example.com/orders"
RAW = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
CLAIMS = {"cnf": KEY.cnf}
ATH = base64.urlsafe_b64encode(hashlib.sha256(RAW.encode()).digest()).rstrip(b"=").decode()
GOOD_CLAIMS: dict[str, Any] = {"htm": "POST", "htu": URL, "iat": int(NOW), "jti": "j", "ath": ATH}
HEADER = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.jwk}
VALID = KEY.proof("POST", URL, RAW, iat=NOW, jti="j")

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


WARM = DPoP()  # its memo holds VALID's header, as a busy server's would
run(check_binding(CLAIMS, RAW, DPOP, RequestContext("POST", URL, VALID), WARM, NOW))


def outcome(
    proof: str | None,
    *,
    dpop: DPoP | None = None,
    claims: Mapping[str, Any] = CLAIMS,
    method: str = "POST",
    url: str = URL,
    certificate: bytes | None = None,
) -> str:
    """Return "ok" or the name of the TokenError, the same for both drivers; anything else fails."""
    results = []
    for drive in (run, lambda flow: asyncio.run(run_async(flow))):
        request = RequestContext(method, url, proof, certificate)
        try:
            # A fresh DPoP object, with an empty replay cache and memo, unless one is given.
            drive(check_binding(claims, RAW, DPOP, request, dpop or DPoP(), NOW))
        except TokenError as exc:
            results.append(type(exc).__name__)
        else:
            results.append("ok")
    assert results[0] == results[1], "sync and async paths disagree"
    return results[0]


def test_the_valid_proof_is_valid() -> None:
    assert outcome(VALID) == "ok"  # so that what follows refuses for its own reason
    assert len(WARM._headers) == 1


@settings(max_examples=300)
@given(st.text(max_size=1000))
@example("")
@example(",")
@example("..")
@example(VALID + " ")
def test_any_text_as_a_proof_is_only_refused(proof: str) -> None:
    assert outcome(proof) == "InvalidDPoPProof"


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=B64_CHARS, max_size=120), min_size=1, max_size=5))
def test_dotted_base64url_segments_are_only_refused(segments: list[str]) -> None:
    assert outcome(".".join(segments)) == "InvalidDPoPProof"


@settings(max_examples=500)
@given(mutations([VALID]))
def test_an_altered_proof_is_never_accepted(mutated: str) -> None:
    if mutated != VALID:
        assert outcome(mutated) == "InvalidDPoPProof"
        assert outcome(mutated, dpop=WARM) == "InvalidDPoPProof"


def _signed(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """Return a proof signed with KEY over `header` and the good claims, `claims` replacing some."""
    return KEY.sign(header, json.dumps({**GOOD_CLAIMS, **claims}).encode())


@settings(max_examples=300)
@given(st.sampled_from(sorted(GOOD_CLAIMS)), JSON)
def test_a_signed_proof_with_any_claim_value_is_accepted_only_when_right(
    name: str, value: Any
) -> None:
    if name == "jti":
        right = isinstance(value, str) and value != ""
    elif name == "iat":
        right = type(value) in (int, float) and NOW - 300 <= value <= NOW + 5
    else:  # htm, htu, ath: the one right string (htu: too short to be another spelling of it)
        right = type(value) is str and value == GOOD_CLAIMS[name]
    assert outcome(_signed(HEADER, {name: value})) == ("ok" if right else "InvalidDPoPProof")


@settings(max_examples=300)
@given(st.sampled_from(["typ", "alg", "jwk", "crit", "kid", "jku", "x5c"]), JSON)
@example("typ", "Application/DPOP+JWT")
@example("alg", "ES256")
@example("jwk", KEY.jwk)
def test_a_signed_proof_with_any_header_value_is_accepted_only_when_right(
    name: str, value: Any
) -> None:
    header = {**HEADER, name: value}
    if name == "alg" and value != HEADER["alg"]:  # signed with the right alg, header forged
        _, payload, signature = _signed(HEADER, {}).split(".")
        proof = f"{b64(json.dumps(header).encode())}.{payload}.{signature}"
    else:
        proof = _signed(header, {})
    if name == "typ":
        right = isinstance(value, str) and value.lower() in ("dpop+jwt", "application/dpop+jwt")
    elif name in ("kid", "jku", "x5c"):  # never used to find a key
        right = True
    else:
        right = name != "crit" and value == HEADER[name]
    assert outcome(proof) == ("ok" if right else "InvalidDPoPProof")


@settings(max_examples=300)
@given(st.text(max_size=10), st.text(max_size=200))
@example("POST", "https://API.example.com:443/orders?q")
@example("POST", "https://[::1/orders")
@example("POST", "https://api.example.com:0/orders")
@example("POST", "//api.example.com/orders")
def test_any_request_method_and_url_raise_only_token_errors(method: str, url: str) -> None:
    result = outcome(VALID, method=method, url=url)
    assert result in ("ok", "InvalidDPoPProof")
    if result == "ok":
        assert method == "POST"
        assert url.lower().startswith("https://api.example.com")


@settings(max_examples=300)
@given(JSON, st.one_of(st.none(), st.binary(max_size=64)))
@example({"jkt": KEY.jkt, "x5t#S256": "x"}, b"cert")
@example({"x5t#S256": ""}, None)
def test_any_cnf_claim_raises_only_token_errors(cnf: Any, certificate: bytes | None) -> None:
    result = outcome(VALID, claims={"cnf": cnf}, certificate=certificate)
    if result == "ok":
        assert cnf in ({}, {"jkt": KEY.jkt})


@settings(max_examples=300)
@given(
    JSON,
    JSON,
    st.lists(st.text(min_size=1, max_size=5), max_size=3),
    st.none() | st.integers(0, 10**6),
)
def test_any_acr_and_auth_time_raise_only_step_up_errors(
    acr: Any, auth_time: Any, acr_values: list[str], max_age: int | None
) -> None:
    refused: InsufficientUserAuthentication | None = None
    try:
        check_step_up({"acr": acr, "auth_time": auth_time}, acr_values, max_age, NOW, 60)
    except InsufficientUserAuthentication as exc:
        refused = exc
    if refused is None:
        assert not acr_values or acr in acr_values
        assert max_age is None or NOW - max_age - 60 <= auth_time <= NOW + 60
    else:
        assert refused.acr_values == tuple(acr_values)
        assert refused.max_age == max_age


URL_PARTS = st.sampled_from(
    [
        "https:",
        "HTTP:",
        "//",
        "/",
        "?",
        "#",
        "@",
        ":",
        "[",
        "]",
        "%",
        "%7e",
        "%2F",
        "443",
        "Api.Example.com",
        "me",
        "é",
        " ",
        "\t",
        "\n",
        "x",
    ]
)


@settings(max_examples=500)
@given(st.lists(URL_PARTS, max_size=12).map("".join))
@example("https://api.example.com/a#b?c")
@example("https://api.example.com?x=1/y")
@example("https://[::1?]/")
def test_the_target_memo_lookup_cuts_only_what_urlsplit_drops(url: str) -> None:
    # _target cuts at the first "?" or "#" before its memo; the full URL gives the same.
    assert _target(url) == _normal_target.__wrapped__(url)
