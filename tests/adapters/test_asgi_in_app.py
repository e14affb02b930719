"""A refusal raised inside a plain ASGI app behind the middleware answers as a refusal."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from accesstoken.asgi import AccessTokenMiddleware
from accesstoken.errors import Forbidden
from accesstoken.testing import LocalIssuer

ISSUER = LocalIssuer(audience="api")


async def needs_admin(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["state"]["access_token"].require_roles("admin")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"admin"})


async def refuses_late(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    scope["state"]["access_token"].require_roles("admin")


def client(app: Any) -> TestClient:
    return TestClient(AccessTokenMiddleware(app, ISSUER.verifier()))


def test_a_role_refused_in_the_app_is_a_403_with_its_challenge() -> None:
    answer = client(needs_admin).get("/", headers={"Authorization": f"Bearer {ISSUER.issue()}"})
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"].startswith("Bearer")
    admin = ISSUER.issue(roles=["admin"])
    assert (
        client(needs_admin).get("/", headers={"Authorization": f"Bearer {admin}"}).text == "admin"
    )


def test_a_refusal_after_the_answer_started_is_not_hidden() -> None:
    with pytest.raises(Forbidden):
        client(refuses_late).get("/", headers={"Authorization": f"Bearer {ISSUER.issue()}"})


def test_a_starlette_app_behind_the_middleware_answers_a_route_refusal_with_403() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    def admin(request: Request) -> PlainTextResponse:
        request.state.access_token.require_scopes("orders:admin")
        return PlainTextResponse("admin")

    app = Starlette(routes=[Route("/admin", admin)])
    guarded = TestClient(AccessTokenMiddleware(app, ISSUER.verifier()))
    answer = guarded.get("/admin", headers={"Authorization": f"Bearer {ISSUER.issue()}"})
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert answer.json()["error"] == "insufficient_scope"
    allowed = ISSUER.issue(scopes=["orders:admin"])
    assert guarded.get("/admin", headers={"Authorization": f"Bearer {allowed}"}).text == "admin"
