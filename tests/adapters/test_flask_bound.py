"""`FlaskAuth`: DPoP-bound and certificate-bound tokens, step-up and RFC 9728 metadata."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from accesstoken import TokenVerifier
from accesstoken.flask import FlaskAuth, current_token

from . import _bound
from ._bound import (
    ISSUER,
    RESOURCE,
    bound_token,
    certificate,
    dpop_headers,
    dpop_verifier,
)

BASE = "http://localhost"  # Flask's test client


def client(verifier: TokenVerifier, **options: Any) -> FlaskClient:
    app = Flask(__name__)
    auth = FlaskAuth(**options)
    auth.init_app(app, verifier)

    @app.get("/whoami")
    @auth.require()
    def whoami() -> dict[str, str | None]:
        return {"sub": current_token.subject}

    @app.get("/write")
    @auth.require("orders:write")
    def write() -> str:
        return "ok"

    @app.get("/mfa")
    @auth.require(acr_values="urn:mfa")
    async def mfa() -> str:
        return "ok"

    return app.test_client()


def test_a_dpop_bound_token_with_its_proof_is_accepted() -> None:
    headers = dpop_headers(bound_token(), url=f"{BASE}/whoami")
    response = client(dpop_verifier()).get("/whoami", headers=headers)
    assert response.status_code == 200, response.text


def test_a_dpop_bound_token_sent_as_bearer_or_without_proof_is_refused() -> None:
    _bound.check_unproven_bound_token_is_refused(client(dpop_verifier()).get)


def test_the_proof_is_checked_against_the_public_url() -> None:
    app = client(dpop_verifier(), public_url="https://api.example.com")
    _bound.check_the_proof_names_the_public_url(app.get)
    token = bound_token()
    assert app.get("/whoami", headers=dpop_headers(token, url=f"{BASE}/whoami")).status_code == 401


def test_a_certificate_bound_token_needs_ssl_client_cert() -> None:
    pem, thumbprint = certificate()
    app, token = client(ISSUER.verifier()), ISSUER.issue(cnf={"x5t#S256": thumbprint})
    headers = {"Authorization": f"Bearer {token}"}
    with_cert = app.get("/whoami", headers=headers, environ_base={"SSL_CLIENT_CERT": pem})
    assert with_cert.status_code == 200
    assert app.get("/whoami", headers=headers).status_code == 401


def test_the_metadata_document_is_served_and_named_in_challenges() -> None:
    app = client(ISSUER.verifier(), resource=RESOURCE)
    document = app.get(RESOURCE.metadata_path)
    assert document.status_code == 200
    assert document.mimetype == "application/json"
    assert document.json == RESOURCE.metadata()
    _bound.check_challenges_name_the_metadata(app.get)


def test_acr_values_refused_is_insufficient_user_authentication() -> None:
    app = client(ISSUER.verifier())
    token = ISSUER.issue(acr="urn:password")
    response = app.get("/mfa", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"] == "insufficient_user_authentication"
    accepted = ISSUER.issue(acr="urn:mfa")
    assert app.get("/mfa", headers={"Authorization": f"Bearer {accepted}"}).status_code == 200
