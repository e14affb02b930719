"""`AccessTokenMiddleware`: DPoP-bound and certificate-bound tokens, step-up, RFC 9728."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.testclient import TestClient

from accesstoken import TokenVerifier
from accesstoken.asgi import AccessTokenMiddleware, Message, Scope

from ._bound import (
    ISSUER,
    METADATA,
    RESOURCE,
    bound_token,
    certificate,
    dpop_headers,
    dpop_verifier,
)
from .test_asgi import starlette_app


def client(verifier: TokenVerifier, **options: Any) -> TestClient:
    return TestClient(AccessTokenMiddleware(starlette_app(), verifier, **options))


def test_a_dpop_bound_token_with_its_proof_is_accepted() -> None:
    response = client(dpop_verifier()).get("/whoami", headers=dpop_headers(bound_token()))
    assert response.status_code == 200, response.text


def test_the_proof_is_checked_against_the_public_url_behind_a_proxy() -> None:
    token = bound_token()
    proxied = client(dpop_verifier(), public_url="https://api.example.com")
    public = dpop_headers(token, url="https://api.example.com/whoami")
    assert proxied.get("/whoami", headers=public).status_code == 200
    internal = dpop_headers(token)
    assert proxied.get("/whoami", headers=internal).status_code == 401


def test_a_dpop_bound_token_sent_as_bearer_is_refused() -> None:
    token = bound_token()
    response = client(dpop_verifier()).get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_no_proof_is_refused_with_a_dpop_challenge() -> None:
    token = bound_token()
    response = client(dpop_verifier()).get("/whoami", headers={"Authorization": f"DPoP {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="invalid_dpop_proof"')
    assert challenge.endswith(", Bearer")


def test_two_dpop_headers_are_refused() -> None:
    token = bound_token()
    proof = dpop_headers(token)["DPoP"]
    headers = [("Authorization", f"DPoP {token}"), ("DPoP", proof), ("DPoP", proof)]
    response = client(dpop_verifier()).get("/whoami", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"


def test_without_dpop_options_the_dpop_scheme_is_another_scheme() -> None:
    token = bound_token()
    response = client(ISSUER.verifier()).get("/whoami", headers=dpop_headers(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_metadata_document_is_served_and_named_in_challenges() -> None:
    app = client(dpop_verifier(), resource=RESOURCE, scopes=("orders:write",))
    document = app.get(RESOURCE.metadata_path)
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/json"
    assert document.json() == RESOURCE.metadata()
    missing = app.get("/whoami")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].count(METADATA) == 2
    scoped = app.get("/whoami", headers={"Authorization": f"Bearer {ISSUER.issue()}"})
    assert scoped.status_code == 403
    assert METADATA in scoped.headers["WWW-Authenticate"]


def test_acr_values_refused_is_insufficient_user_authentication() -> None:
    app = client(ISSUER.verifier(), acr_values=("urn:mfa",))
    token = ISSUER.issue(acr="urn:password")
    response = app.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "insufficient_user_authentication"
    assert 'acr_values="urn:mfa"' in response.headers["WWW-Authenticate"]
    accepted = ISSUER.issue(acr="urn:mfa")
    assert app.get("/whoami", headers={"Authorization": f"Bearer {accepted}"}).status_code == 200


def test_a_certificate_bound_token_needs_the_tls_client_certificate() -> None:
    pem, thumbprint = certificate()
    token = ISSUER.issue(cnf={"x5t#S256": thumbprint})
    middleware = AccessTokenMiddleware(starlette_app(), ISSUER.verifier())

    def status(extensions: dict[str, Any]) -> int:
        scope: Scope = {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "path": "/whoami",
            "raw_path": b"/whoami",
            "query_string": b"",
            "headers": [(b"host", b"api"), (b"authorization", f"Bearer {token}".encode())],
            "extensions": extensions,
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        asyncio.run(middleware(scope, receive, send))
        return int(sent[0]["status"])

    assert status({"tls": {"client_cert_chain": [pem]}}) == 200
    assert status({}) == 401
