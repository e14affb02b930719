"""One `/whoami` app per adapter, for tests that run the same request through all three."""

# No `from __future__ import annotations`: FastAPI must evaluate the endpoint's annotation,
# which names the local `auth`.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from accesstoken import AccessToken, Verifier
from accesstoken.asgi import AccessTokenMiddleware
from accesstoken.fastapi import BearerAuth, install_error_handlers
from accesstoken.flask import FlaskAuth, current_token


def fastapi_client(verifier: Verifier) -> Any:
    """Return a test client of a FastAPI app whose `/whoami` needs a token."""
    app = FastAPI()
    auth = BearerAuth(verifier)
    install_error_handlers(app)

    @app.get("/whoami")
    async def whoami(token: Annotated[AccessToken, Depends(auth)]) -> dict[str, Any]:
        return {"sub": token.subject}

    return TestClient(app)


def flask_client(verifier: Verifier) -> Any:
    """Return a test client of a Flask app whose `/whoami` needs a token."""
    app = Flask(__name__)
    auth = FlaskAuth(verifier)

    @app.get("/whoami")
    @auth.require()
    def whoami() -> dict[str, Any]:
        return {"sub": current_token.subject}

    return app.test_client()


def asgi_client(verifier: Verifier) -> Any:
    """Return a test client of a Starlette app behind `AccessTokenMiddleware`."""

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.access_token.subject})

    return TestClient(AccessTokenMiddleware(Starlette(routes=[Route("/whoami", whoami)]), verifier))


CLIENTS: dict[str, Callable[[Verifier], Any]] = {
    "fastapi": fastapi_client,
    "flask": flask_client,
    "asgi": asgi_client,
}
