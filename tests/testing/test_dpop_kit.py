"""The testing kit's `DPoPKey` and DPoP-bound tokens from `LocalIssuer`."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest

from accesstoken._dpop import jwk_thumbprint
from accesstoken.testing import DPoPKey, LocalIssuer


def parts(compact: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = compact.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        for segment in (header, payload)
    )


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "RS256", "PS256", "EdDSA"])
def test_a_key_makes_proofs_of_rfc_9449_shape(algorithm: str) -> None:
    key = DPoPKey(algorithm)
    before = int(time.time())
    proof = key.proof("POST", "https://api.example.com/orders?page=2#top", "DPoP a.b.c")
    header, claims = parts(proof)
    assert header == {"typ": "dpop+jwt", "alg": algorithm, "jwk": key.jwk}
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key.jwk)
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://api.example.com/orders"
    assert before <= claims["iat"] <= time.time()
    assert (
        claims["ath"]
        == base64.urlsafe_b64encode(hashlib.sha256(b"a.b.c").digest()).rstrip(b"=").decode()
    )
    assert len(claims["jti"]) >= 16
    assert parts(key.proof("POST", "https://api.example.com/"))[1]["jti"] != claims["jti"]


def test_jkt_is_the_rfc_7638_thumbprint_of_the_jwk() -> None:
    key = DPoPKey()
    assert key.jkt == jwk_thumbprint(key.jwk)
    assert key.cnf == {"jkt": key.jkt}
    assert key.jkt in repr(key)


def test_proof_claims_and_headers_can_be_replaced_or_removed() -> None:
    key = DPoPKey()
    header, claims = parts(
        key.proof(
            "GET",
            "https://a/",
            iat=5,
            jti="x",
            headers={"typ": None, "kid": "k"},
            htm=None,
            nonce="n",
        )
    )
    assert header == {"alg": "ES256", "jwk": key.jwk, "kid": "k"}
    assert claims == {"htu": "https://a/", "iat": 5, "jti": "x", "nonce": "n"}
    assert "ath" not in claims  # no token, no ath
    with pytest.raises(ValueError, match="alg"):
        key.proof("GET", "https://a/", headers={"alg": None})


@pytest.mark.parametrize("algorithm", ["HS256", "none", "XS1"])
def test_a_dpop_key_is_asymmetric(algorithm: str) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        DPoPKey(algorithm)


def _claims(raw: str) -> dict[str, object]:
    """The claims of a token, read without verifying (a bound token needs its proof)."""
    import base64
    import json

    payload = raw.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_issue_binds_a_token_to_the_key() -> None:
    issuer, key = LocalIssuer(), DPoPKey()
    assert _claims(issuer.issue(dpop_key=key))["cnf"] == {"jkt": key.jkt}
    both = _claims(issuer.issue(dpop_key=key, cnf={"x5t#S256": "abc"}))
    assert both["cnf"] == {"x5t#S256": "abc", "jkt": key.jkt}
    assert "cnf" not in issuer.verifier().verify(issuer.issue()).claims


def test_an_opaque_token_can_be_bound_too() -> None:
    issuer, key = LocalIssuer(), DPoPKey()
    answer = issuer.introspect(issuer.issue_opaque(dpop_key=key))
    assert answer["cnf"] == {"jkt": key.jkt}
    assert answer["token_type"] == "DPoP"
    assert issuer.introspect(issuer.issue_opaque())["token_type"] == "Bearer"
