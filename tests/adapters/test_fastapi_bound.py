"""`BearerAuth`: DPoP-bound tokens, step-up and RFC 9728 metadata."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations.

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from accesstoken import AccessToken, TokenVerifier
from accesstoken.fastapi import BearerAuth, install_error_handlers

from . import _bound
from ._bound import (
    ISSUER,
    RESOURCE,
    bound_token,
    dpop_headers,
    dpop_verifier,
)


def client(verifier: TokenVerifier, **options: Any) -> TestClient:
    auth = BearerAuth(verifier, **options)
    app = FastAPI()
    install_error_handlers(app, resource=options.get("resource"))

    @app.get("/whoami")
    def whoami(token: Annotated[AccessToken, Depends(auth)]) -> dict[str, str | None]:
        return {"sub": token.subject}

    @app.get("/write")
    def write(_: Annotated[AccessToken, Depends(auth.require("orders:write"))]) -> str:
        return "ok"

    @app.get("/mfa")
    def mfa(_: Annotated[AccessToken, Depends(auth.require(acr_values="urn:mfa"))]) -> str:
        return "ok"

    return TestClient(app)


def test_a_dpop_bound_token_with_its_proof_is_accepted() -> None:
    response = client(dpop_verifier()).get("/whoami", headers=dpop_headers(bound_token()))
    assert response.status_code == 200, response.text


def test_a_dpop_bound_token_sent_as_bearer_or_without_proof_is_refused() -> None:
    _bound.check_unproven_bound_token_is_refused(client(dpop_verifier()).get)


def test_the_proof_is_checked_against_the_public_url() -> None:
    app = client(dpop_verifier(), public_url="https://api.example.com")
    _bound.check_the_proof_names_the_public_url(app.get)


def test_the_metadata_document_is_served_and_named_in_challenges() -> None:
    app = client(ISSUER.verifier(), resource=RESOURCE)
    document = app.get(RESOURCE.metadata_path)
    assert document.status_code == 200
    assert document.json() == RESOURCE.metadata()
    _bound.check_challenges_name_the_metadata(app.get)


def test_acr_values_refused_is_insufficient_user_authentication() -> None:
    app = client(ISSUER.verifier())
    token = ISSUER.issue(acr="urn:password")
    response = app.get("/mfa", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "insufficient_user_authentication"
    accepted = ISSUER.issue(acr="urn:mfa")
    assert app.get("/mfa", headers={"Authorization": f"Bearer {accepted}"}).status_code == 200
