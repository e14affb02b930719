"""accesstoken.mcp: the mcp SDK's MCPServer, served by uvicorn, guarded by our verifiers.

The server is the SDK's own streamable-HTTP app and the client the SDK's own `Client` (or
plain httpx where a refusal's status and headers are the point), so what is checked is
what the SDK does with what `MCPTokenVerifier` answers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken as SDKAccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from accesstoken import (
    KeySourceUnavailable,
    OIDCDiscovery,
    ProtectedResource,
    TokenRouter,
    TokenVerifier,
)
from accesstoken.mcp import KeySourceErrorMiddleware, MCPAccessToken, MCPTokenVerifier
from accesstoken.testing import LocalIssuer

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "tests", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"


def orders_server(verifier: MCPTokenVerifier, issuer: str, resource: str) -> Starlette:
    """Return the SDK's streamable-HTTP app for an MCP server with one tool, `whoami`."""
    server = MCPServer(
        "orders",
        token_verifier=verifier,
        auth=AuthSettings(
            issuer_url=issuer,  # type: ignore[arg-type]  # pydantic reads the string
            resource_server_url=resource,  # type: ignore[arg-type]
            validate_token_resource=True,
            required_scopes=["orders:read"],
        ),
    )

    @server.tool()
    def whoami() -> str:
        """Say who called, from the SDK's view of the token."""
        token = get_access_token()
        assert token is not None
        return f"{token.client_id} {token.subject} {token.resource} {' '.join(token.scopes)}"

    return server.streamable_http_app()


@asynccontextmanager
async def running(app_for: Callable[[str], Any]) -> AsyncIterator[str]:
    """Serve `app_for(base_url)` with uvicorn on 127.0.0.1; yield the base URL; stop on exit.

    The socket is bound first, so the app can know its own URL (the resource identifier).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        # log_config=None: uvicorn's records reach pytest's caplog like any other.
        server = uvicorn.Server(uvicorn.Config(app_for(base), log_config=None))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                assert not serving.done(), "uvicorn stopped while starting"
                assert time.monotonic() < deadline, "uvicorn did not start"
                await asyncio.sleep(0.01)
            yield base
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 10)


async def post_initialize(url: str, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, json=INITIALIZE, headers=headers)


@pytest.fixture
def idp() -> LocalIssuer:
    """An issuer whose audience is set by each test to the MCP server's URL."""
    return LocalIssuer("ES256")


# -- Over HTTP, through the SDK ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_a_valid_token_initializes_and_calls_a_tool(idp: LocalIssuer, mode: str) -> None:
    async def scenario() -> tuple[str, str]:
        def app(base: str) -> Starlette:
            idp.audience = base + "/mcp"
            return orders_server(MCPTokenVerifier(idp.verifier()), idp.issuer, base + "/mcp")

        async with running(app) as base:
            token = idp.issue("alice", scopes=["orders:read", "orders:write"], client_id="cli")
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=10) as http,
                Client(streamable_http_client(base + "/mcp", http_client=http), mode=mode) as mcp,  # type: ignore[arg-type]
            ):
                result = await mcp.call_tool("whoami", {})
            assert not result.is_error
            return base, result.content[0].text  # type: ignore[union-attr]

    base, text = asyncio.run(scenario())
    assert text == f"cli alice {base}/mcp orders:read orders:write"


def test_refusals_are_401_with_the_sdk_challenge(idp: LocalIssuer) -> None:
    async def scenario() -> tuple[str, dict[str, httpx.Response]]:
        def app(base: str) -> Starlette:
            idp.audience = base + "/mcp"
            return orders_server(MCPTokenVerifier(idp.verifier()), idp.issuer, base + "/mcp")

        async with running(app) as base:
            url = base + "/mcp"
            expired = idp.issue(scopes=["orders:read"], expires_in=-3600)
            other_resource = idp.issue(scopes=["orders:read"], aud="http://127.0.0.1:1/mcp")
            forged = LocalIssuer("ES256", issuer=idp.issuer, audience=url).issue(
                scopes=["orders:read"]
            )
            answers = {
                "missing": await post_initialize(url, None),
                "garbage": await post_initialize(url, "not-a-token"),
                "expired": await post_initialize(url, expired),
                "forged": await post_initialize(url, forged),
                "other resource": await post_initialize(url, other_resource),
                "no scope": await post_initialize(url, idp.issue(scopes=["orders:write"])),
                "good": await post_initialize(url, idp.issue(scopes=["orders:read"])),
            }
            async with httpx.AsyncClient() as http:
                answers["metadata"] = await http.get(base + METADATA_PATH)
            return base, answers

    base, answers = asyncio.run(scenario())
    metadata_url = base + METADATA_PATH
    assert answers.pop("good").status_code == 200
    scope = answers.pop("no scope")
    assert scope.status_code == 403
    assert 'error="insufficient_scope"' in scope.headers["WWW-Authenticate"]
    document = answers.pop("metadata").json()
    assert document["resource"] == base + "/mcp"
    assert document["authorization_servers"] == [idp.issuer]
    for name, answer in answers.items():
        assert answer.status_code == 401, name
        challenge = answer.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer "), name
        assert f'resource_metadata="{metadata_url}"' in challenge, name
        assert answer.json()["error"] == "invalid_token", name


@pytest.mark.parametrize("named", [False, True])
def test_the_sdk_refuses_a_token_whose_resource_is_not_this_server(
    idp: LocalIssuer, named: bool
) -> None:
    """A verifier of two audiences: the SDK compares the one reported with its own URL."""

    async def scenario() -> tuple[int, int, int]:
        def app(base: str) -> Starlette:
            verifier = idp.verifier(audience=("orders-api", base + "/mcp"))
            resource = base + "/mcp" if named else None
            served = MCPTokenVerifier(verifier, resource=resource)
            return orders_server(served, idp.issuer, base + "/mcp")

        async with running(app) as base:
            url = base + "/mcp"
            only_us = idp.issue(scopes=["orders:read"], aud=url)
            both = idp.issue(scopes=["orders:read"], aud=["orders-api", url])
            only_the_api = idp.issue(scopes=["orders:read"], aud="orders-api")
            return (
                (await post_initialize(url, only_us)).status_code,
                (await post_initialize(url, both)).status_code,
                (await post_initialize(url, only_the_api)).status_code,
            )

    # Both audiences in one token: which one names this server is only known when named.
    assert asyncio.run(scenario()) == (200, 200 if named else 401, 401)


@pytest.mark.parametrize("middleware", [False, True])
def test_a_key_source_outage_is_not_a_401(middleware: bool) -> None:
    """Discovery down and nothing cached: the request fails as the server's, not the token's."""
    issuer = LocalIssuer("ES256")

    async def scenario() -> httpx.Response:
        def app(base: str) -> Starlette:
            issuer.audience = base + "/mcp"
            verifier = TokenVerifier(
                keys=OIDCDiscovery(issuer.issuer, timeout=2),
                issuer=issuer.issuer,
                audience=issuer.audience,
            )
            served = orders_server(MCPTokenVerifier(verifier), issuer.issuer, base + "/mcp")
            if middleware:
                served.add_middleware(KeySourceErrorMiddleware)
            return served

        async with running(app) as base:
            token = issuer.issue(scopes=["orders:read"])
            with issuer.outage():
                return await post_initialize(base + "/mcp", token)

    with issuer.serve():
        answer = asyncio.run(scenario())
        assert issuer.requests["/.well-known/openid-configuration"] >= 1
    assert "WWW-Authenticate" not in answer.headers
    if middleware:
        assert answer.status_code == 503
        assert answer.json()["error"] == "temporarily_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
    else:
        # The SDK leaves the exception to Starlette: a 500, at least never a 401.
        assert answer.status_code >= 500


def test_the_middleware_answers_only_an_outage_before_the_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """503 for a KeySourceError before the response; anything else, or later, propagates."""

    async def down(request: Request) -> Response:
        raise KeySourceUnavailable()

    async def bug(request: Request) -> Response:
        raise RuntimeError("a bug is not an outage")

    async def late(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"partial"
            raise KeySourceUnavailable()

        return StreamingResponse(body())

    routes = [Route("/down", down), Route("/bug", bug), Route("/late", late)]

    async def scenario() -> tuple[httpx.Response, httpx.Response, tuple[int, str]]:
        app = Starlette(routes=routes)
        app.add_middleware(KeySourceErrorMiddleware)
        async with running(lambda _: app) as base, httpx.AsyncClient(base_url=base) as http:
            down_answer, bug_answer = await http.get("/down"), await http.get("/bug")
            async with http.stream("GET", "/late") as streamed:
                try:
                    text = (await streamed.aread()).decode()
                except httpx.RemoteProtocolError:
                    text = "(cut off)"
            return down_answer, bug_answer, (streamed.status_code, text)

    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        down_answer, bug_answer, (late_status, late_text) = asyncio.run(scenario())
    raised = [record.exc_info[0] for record in caplog.records if record.exc_info]
    assert down_answer.status_code == 503
    assert down_answer.json() == {
        "error": "temporarily_unavailable",
        "error_description": KeySourceUnavailable().description,
    }
    assert int(down_answer.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in down_answer.headers
    assert bug_answer.status_code == 500
    assert late_status == 200  # already sent: the response is cut off, not rewritten
    assert "temporarily_unavailable" not in late_text
    # What reached the server: the bug and the late outage, each as itself.
    assert raised == [RuntimeError, KeySourceUnavailable]


# -- The mapping to the SDK's AccessToken ------------------------------------------------


def verify(verifier: MCPTokenVerifier, token: str) -> MCPAccessToken | None:
    return asyncio.run(verifier.verify_token(token))


def test_the_sdk_access_token_carries_what_the_token_says() -> None:
    issuer = LocalIssuer("ES256", audience="https://api.example.com/mcp")
    raw = issuer.issue("alice", scopes=["b", "c", "a"], client_id="cli", act={"sub": "agent"})
    found = verify(MCPTokenVerifier(issuer.verifier()), raw)
    assert isinstance(found, MCPAccessToken)
    assert isinstance(found, SDKAccessToken)
    claims = issuer.verifier().verify(raw).claims
    assert found.token == raw
    assert found.client_id == "cli"
    assert found.scopes == ["a", "b", "c"]
    assert found.expires_at == claims["exp"]
    assert isinstance(found.expires_at, int)
    assert found.resource == "https://api.example.com/mcp"
    assert found.subject == "alice"
    assert found.claims == dict(claims)
    assert found.claims["act"] == {"sub": "agent"}
    # The claims skip pydantic's check: the SDK's own model, which checks them, agrees.
    assert SDKAccessToken.model_validate(found.model_dump()).model_dump() == found.model_dump()
    assert raw not in repr(found)
    assert "client_id='cli'" in repr(found)


def test_client_id_falls_back_to_azp_then_sub_and_a_token_without_any_is_refused() -> None:
    issuer = LocalIssuer("ES256")
    verifier = MCPTokenVerifier(issuer.verifier())
    by_azp = verify(verifier, issuer.issue("alice", azp="spa"))
    assert by_azp is not None
    assert by_azp.client_id == "spa"
    by_sub = verify(verifier, issuer.issue("alice"))
    assert by_sub is not None
    assert (by_sub.client_id, by_sub.subject) == ("alice", "alice")
    assert verify(verifier, issuer.issue(None)) is None


def test_exp_is_rounded_down_and_a_token_without_exp_has_none() -> None:
    issuer = LocalIssuer("ES256")
    exp = time.time() + 300.75
    found = verify(MCPTokenVerifier(issuer.verifier()), issuer.issue(exp=exp))
    assert found is not None
    assert found.expires_at == int(exp)
    lasting = MCPTokenVerifier(issuer.verifier(required_claims=()))
    no_exp = verify(lasting, issuer.issue(exp=None))
    assert no_exp is not None
    assert no_exp.expires_at is None


@pytest.mark.parametrize(
    ("audience", "aud", "resource"),
    [
        ("https://a.example/mcp", "https://a.example/mcp", "https://a.example/mcp"),
        ("https://a.example/mcp", ["x", "https://a.example/mcp"], "https://a.example/mcp"),
        (("y", "x"), ["z", "x"], "x"),  # several audiences, one of them in aud
        (("y", "x"), ["x", "y"], None),  # both in aud: which one is this server's is unknown
        (None, "https://a.example/mcp", "https://a.example/mcp"),  # unchecked: the sole entry
        (None, ["x", "y"], None),  # unchecked and several: none can be named
    ],
)
def test_resource_is_the_aud_entry_the_verifier_accepted(
    audience: Any, aud: Any, resource: str | None
) -> None:
    issuer = LocalIssuer("ES256")
    found = verify(MCPTokenVerifier(issuer.verifier(audience=audience)), issuer.issue(aud=aud))
    assert found is not None
    assert found.resource == resource


def test_resource_can_be_named_for_verifiers_that_cannot_say() -> None:
    issuer = LocalIssuer("ES256", audience="orders-api")
    router = TokenRouter(jwt=issuer.verifier(audience=("orders-api", "https://a.example/mcp")))
    both = issuer.issue(aud=["orders-api", "https://a.example/mcp"])
    unnamed = verify(MCPTokenVerifier(router), both)
    assert unnamed is not None
    assert unnamed.resource is None  # a router hides its verifiers' audiences
    named = MCPTokenVerifier(router, resource="https://a.example/mcp")
    found = verify(named, both)
    assert found is not None
    assert found.resource == "https://a.example/mcp"
    described = ProtectedResource("https://a.example/mcp", authorization_servers=issuer.issuer)
    from_document = verify(MCPTokenVerifier(router, resource=described), both)
    assert from_document is not None
    assert from_document.resource == "https://a.example/mcp"
    other = verify(named, issuer.issue(aud="orders-api"))
    assert other is not None
    assert other.resource is None


def test_an_introspection_verifier_reports_its_audience() -> None:
    issuer = LocalIssuer("ES256", audience=["orders-api", "https://a.example/mcp"])
    issuer.add_client("mcp", "mcp-secret")
    with issuer.serve():
        verifier = issuer.introspection_verifier(
            "mcp", "mcp-secret", audience="https://a.example/mcp"
        )
        found = verify(MCPTokenVerifier(verifier), issuer.issue_opaque("alice", client_id="cli"))
        assert verify(MCPTokenVerifier(verifier), "opaque-and-unknown") is None
    assert found is not None
    assert (found.client_id, found.resource) == ("cli", "https://a.example/mcp")


@pytest.mark.parametrize(
    "raw", ["", "not-a-token", "a.b.c", "Bearer x", "\x00", "é" * 10, "x" * 10_000]
)
def test_every_token_error_is_none(raw: str) -> None:
    assert verify(MCPTokenVerifier(LocalIssuer("ES256").verifier()), raw) is None


def test_a_key_source_error_propagates() -> None:
    issuer = LocalIssuer("ES256")
    with issuer.serve() as url:
        verifier = MCPTokenVerifier(TokenVerifier(OIDCDiscovery(url), issuer=url, audience="api"))
        with issuer.outage(), pytest.raises(KeySourceUnavailable):
            verify(verifier, issuer.issue())


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ((object(),), "verifier"),
        (("a-token",), "verifier"),
    ],
)
def test_misuse_is_a_type_error(arguments: tuple[Any, ...], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        MCPTokenVerifier(*arguments)
    with pytest.raises(TypeError, match="resource"):
        MCPTokenVerifier(LocalIssuer().verifier(), resource=b"https://a.example/")  # type: ignore[arg-type]


def test_repr_names_the_verifier() -> None:
    verifier = LocalIssuer().verifier()
    assert repr(MCPTokenVerifier(verifier)) == f"MCPTokenVerifier({verifier!r})"
