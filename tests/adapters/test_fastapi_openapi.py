"""The OpenAPI schema of a FastAPI app guarded by `BearerAuth`, read through the test client."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at runtime.

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient

from accesstoken import AccessToken, KeySourceUnavailable, TokenVerifier
from accesstoken.fastapi import BearerAuth, OAuth2Flows, install_error_handlers, install_openapi
from accesstoken.testing import LocalIssuer

from ._support import bearer


def make_app(auth: BearerAuth, *, flat: bool = False, **app_options: Any) -> FastAPI:
    app = FastAPI(**app_options)

    @app.get("/orders")
    def orders(token: Annotated[AccessToken, Depends(auth)]) -> str | None:
        return token.subject

    @app.post("/orders")
    def create(token: Annotated[AccessToken, Security(auth, scopes=["orders:write"])]) -> str:
        return "created"

    @app.get("/read")
    def read(_: Annotated[AccessToken, Depends(auth.require("orders:read", roles=["a"]))]) -> str:
        return "read"

    @app.get("/me")
    def me(token: Annotated[AccessToken | None, Depends(auth.optional)]) -> str | None:
        return token.subject if token else None

    @app.get("/health")
    def health() -> str:
        return "ok"

    if flat:
        install_error_handlers(app)
    install_openapi(app)
    return app


def openapi(app: FastAPI) -> dict[str, Any]:
    schema: dict[str, Any] = TestClient(app).get("/openapi.json").json()
    return schema


def test_scopes_of_security_and_require_are_in_each_requirement(verifier: TokenVerifier) -> None:
    paths = openapi(make_app(BearerAuth(verifier)))["paths"]
    assert paths["/orders"]["get"]["security"] == [{"BearerAuth": []}]
    assert paths["/orders"]["post"]["security"] == [{"BearerAuth": ["orders:write"]}]
    assert paths["/read"]["get"]["security"] == [{"BearerAuth": ["orders:read"]}]
    assert "security" not in paths["/health"]["get"]


def test_an_optional_operation_also_has_an_empty_requirement(verifier: TokenVerifier) -> None:
    paths = openapi(make_app(BearerAuth(verifier)))["paths"]
    assert paths["/me"]["get"]["security"] == [{"BearerAuth": []}, {}]


@pytest.mark.parametrize("flat", [False, True])
def test_guarded_operations_declare_their_refusals(verifier: TokenVerifier, flat: bool) -> None:
    schema = openapi(make_app(BearerAuth(verifier), flat=flat))
    responses = schema["paths"]["/read"]["get"]["responses"]
    assert {"200", "401", "403", "503"} <= responses.keys()
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    body = responses["403"]["content"]["application/json"]["schema"]
    ref = body if flat else body["properties"]["detail"]
    assert ref == {"$ref": "#/components/schemas/TokenError"}
    error = schema["components"]["schemas"]["TokenError"]
    assert error["properties"].keys() == {"error", "error_description"}
    assert "insufficient_scope" in error["properties"]["error"]["enum"]
    assert "401" not in schema["paths"]["/health"]["get"]["responses"]


def test_an_operations_own_answers_are_kept(verifier: TokenVerifier) -> None:
    auth = BearerAuth(verifier)
    app = FastAPI()

    @app.get("/orders", responses={401: {"description": "Log in first."}})
    def orders(token: Annotated[AccessToken, Depends(auth)]) -> str | None:
        return token.subject

    install_openapi(app)
    responses = openapi(app)["paths"]["/orders"]["get"]["responses"]
    assert responses["401"] == {"description": "Log in first."}
    assert "403" in responses


def test_the_schema_is_described_once(verifier: TokenVerifier) -> None:
    app = make_app(BearerAuth(verifier))
    assert openapi(app) == openapi(app)
    assert app.openapi()["paths"]["/me"]["get"]["security"] == [{"BearerAuth": []}, {}]


def test_flows_from_discovery_of_a_served_issuer() -> None:
    issuer = LocalIssuer(audience="orders-api")
    issuer.add_client("swagger", "swagger-secret", scopes=["orders:read"])
    with issuer.serve() as url:
        flows = OAuth2Flows.from_discovery(url, scopes={"orders:read": "Read the orders"})
        app = make_app(
            BearerAuth(issuer.verifier(), oauth2=flows),
            swagger_ui_init_oauth=flows.swagger_ui_init_oauth("swagger"),
        )
        scheme = openapi(app)["components"]["securitySchemes"]["BearerAuth"]
        assert scheme == {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": f"{url}/token",
                    "scopes": {"orders:read": "Read the orders"},
                }
            },
        }
        # What Swagger UI's Authorize button does with those flows: a real token.
        answer = httpx.post(
            scheme["flows"]["clientCredentials"]["tokenUrl"],
            data={"grant_type": "client_credentials", "scope": "orders:read"},
            auth=("swagger", "swagger-secret"),
        )
        token = answer.json()["access_token"]
        client = TestClient(app)
        assert client.get("/orders", headers=bearer(token)).json() == "swagger"
        assert client.post("/orders", headers=bearer(token)).status_code == 403
        assert "usePkceWithAuthorizationCodeGrant" in client.get("/docs").text


def test_flows_from_discovery_fail_as_discovery_does() -> None:
    issuer = LocalIssuer(audience="orders-api")
    with issuer.serve() as url, issuer.outage(), pytest.raises(KeySourceUnavailable):
        OAuth2Flows.from_discovery(url, timeout=2)


def test_flows_with_an_authorization_endpoint() -> None:
    metadata = {
        "token_endpoint": "https://idp.example/token",
        "authorization_endpoint": "https://idp.example/authorize",
        "scopes_supported": ["orders:read", "orders:write"],
    }
    flows = OAuth2Flows.from_metadata(metadata)
    assert flows.scopes == {"orders:read": "", "orders:write": ""}
    model = flows.model("The shop's identity provider").model_dump(by_alias=True, exclude_none=True)
    assert model["flows"]["authorizationCode"] == {
        "authorizationUrl": "https://idp.example/authorize",
        "tokenUrl": "https://idp.example/token",
        "scopes": {"orders:read": "", "orders:write": ""},
    }
    assert model["flows"]["clientCredentials"]["tokenUrl"] == "https://idp.example/token"
    assert flows.swagger_ui_init_oauth("web") == {
        "clientId": "web",
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": "orders:read orders:write",
    }
    with pytest.raises(ValueError, match="token_endpoint"):
        OAuth2Flows.from_metadata({"authorization_endpoint": "https://idp.example/authorize"})
