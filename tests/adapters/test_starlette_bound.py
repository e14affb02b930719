"""`BearerBackend`: DPoP-bound tokens and the RFC 9728 challenge."""

from __future__ import annotations

from ._bound import ISSUER, METADATA, RESOURCE, bound_token, dpop_headers, dpop_verifier
from .test_starlette import client


def test_a_dpop_bound_token_with_its_proof_is_accepted() -> None:
    response = client(dpop_verifier()).get(
        "/private", headers=dpop_headers(bound_token(), url="http://testserver/private")
    )
    assert response.status_code == 200, response.text


def test_a_dpop_bound_token_without_proof_is_refused_with_a_dpop_challenge() -> None:
    token = bound_token()
    response = client(dpop_verifier()).get("/private", headers={"Authorization": f"DPoP {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    bearer = client(dpop_verifier()).get("/private", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401


def test_a_refused_token_names_the_resource_metadata() -> None:
    expired = ISSUER.issue(expires_in=-3600)
    app = client(ISSUER.verifier(), resource=RESOURCE)
    response = app.get("/private", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert METADATA in response.headers["WWW-Authenticate"]
