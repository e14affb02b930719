"""`accesstoken demo-mcp`: an MCP client finds its way to a tool, on 127.0.0.1, in one command.

Two servers start, each on a free port of 127.0.0.1:

- an identity provider (the testing kit's `LocalIssuer`): discovery, JWK Set and a
  client-credentials token endpoint;
- an MCP server: the `mcp` SDK's `MCPServer` with one tool, its streamable-HTTP app under
  uvicorn, its tokens checked by `MCPTokenVerifier` with keys found by `OIDCDiscovery`.

A scripted client then walks the path of MCP authorization: refused without a token, it
follows the challenge's `resource_metadata` to the RFC 9728 document, reads the
authorization server named there (RFC 8414 metadata), gets a token from its token
endpoint, and calls the tool with the SDK's own client. A token issued for another resource
is refused on the way. A table says what each step got; everything stops at the end.

Needs the extra `accesstoken[mcp]` (the SDK brings Starlette, uvicorn and httpx2).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Final, TextIO

import httpx

from ._keys.discovery import OIDCDiscovery
from ._verifier import TokenVerifier
from .mcp import KeySourceErrorMiddleware, MCPTokenVerifier  # without the extra: names it
from .testing import LocalIssuer

# isort: split
# The SDK and what it brings; accesstoken.mcp, imported above, has said what is missing.
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

__all__ = ["run_mcp_demo"]

SCOPE: Final = "orders:read"
CLIENT_ID: Final = "orders-agent"
CLIENT_SECRET: Final = "demo-secret"  # noqa: S105 - a throwaway client of a throwaway issuer
ORDERS: Final = ("A-1", "A-2")
_RESOURCE_METADATA: Final = re.compile(r'resource_metadata="([^"]+)"')


@dataclass(frozen=True)
class Step:
    """One request of the tour: what was asked, what came back, and whether it should have."""

    title: str
    request: str
    answer: str
    ok: bool


def _orders_server(idp_url: str, resource: str) -> Starlette:
    verifier = TokenVerifier(keys=OIDCDiscovery(idp_url), issuer=idp_url, audience=resource)
    server = MCPServer(
        "orders",
        token_verifier=MCPTokenVerifier(verifier),
        # From strings: AuthSettings keeps a path-less issuer as written, where AnyHttpUrl()
        # would add a "/" and publish an issuer that differs from the tokens' iss.
        auth=AuthSettings.model_validate(
            {
                "issuer_url": idp_url,
                "resource_server_url": resource,
                "validate_token_resource": True,
                "required_scopes": [SCOPE],
            }
        ),
    )

    @server.tool()
    def list_orders() -> list[str]:
        """The caller's open orders."""
        return list(ORDERS)

    app = server.streamable_http_app()
    app.add_middleware(KeySourceErrorMiddleware)
    return app


@contextmanager
def _serving(app: Starlette, sock: socket.socket) -> Iterator[None]:
    """Run `app` under uvicorn on the bound `sock`, in a thread, while the context lasts."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the MCP server did not start")
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _call_tool(url: str, token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=10) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        result = await client.call_tool("list_orders", {})
    found = (result.structured_content or {}).get("result")
    return found if isinstance(found, list) else []


def _tour(http: httpx.Client, issuer: LocalIssuer, resource: str) -> list[Step]:
    steps: list[Step] = []
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}

    refused = http.post(resource, json=initialize, headers=accept)
    challenge = refused.headers.get("WWW-Authenticate", "")
    found = _RESOURCE_METADATA.search(challenge)
    steps.append(
        Step(
            "no token",
            f"POST {resource}",
            f"{refused.status_code} {challenge}",
            refused.status_code == 401 and found is not None,
        )
    )
    if found is None:
        return steps

    document = http.get(found[1]).json()
    servers = document.get("authorization_servers") or [""]
    steps.append(
        Step(
            "the challenge's resource_metadata",
            f"GET {found[1]}",
            f"resource {document.get('resource')}, authorization_servers {servers}",
            document.get("resource") == resource and servers == [issuer.issuer],
        )
    )

    metadata_url = f"{servers[0]}/.well-known/oauth-authorization-server"  # RFC 8414 §3.1
    token_endpoint = http.get(metadata_url).json().get("token_endpoint", "")
    steps.append(
        Step(
            "the authorization server's metadata",
            f"GET {metadata_url}",
            f"token_endpoint {token_endpoint}",
            bool(token_endpoint),
        )
    )

    grant = {"grant_type": "client_credentials", "scope": SCOPE}
    answer = http.post(token_endpoint, data=grant, auth=(CLIENT_ID, CLIENT_SECRET))
    token = answer.json().get("access_token", "")
    steps.append(
        Step(
            "a token for this resource",
            f"POST {token_endpoint}",
            f"{answer.status_code} access_token {token[:16]}...",
            bool(token),
        )
    )

    orders = asyncio.run(_call_tool(resource, token))
    steps.append(
        Step(
            "the tool, with that token",
            "initialize, then tools/call list_orders",
            f"result {orders}",
            orders == list(ORDERS),
        )
    )

    elsewhere = issuer.issue(CLIENT_ID, [SCOPE], aud="https://another.example/mcp")
    other = http.post(
        resource, json=initialize, headers={**accept, "Authorization": f"Bearer {elsewhere}"}
    )
    steps.append(
        Step(
            "a token for another resource",
            f"POST {resource}",
            f"{other.status_code} {other.headers.get('WWW-Authenticate', '')}",
            other.status_code == 401,
        )
    )
    return steps


def _table(steps: list[Step]) -> str:
    lines = []
    for number, step in enumerate(steps, start=1):
        mark = "ok" if step.ok else "UNEXPECTED"
        lines.append(f"{number}. {step.title} [{mark}]")
        lines.append(f"   {step.request}")
        lines.append(f"   -> {step.answer}")
    return "\n".join(lines)


def run_mcp_demo(out: TextIO) -> int:
    """Start the identity provider and the MCP server, play the tour, print it; return 0 or 1.

    Returns:
        0 when every step got what it expected, else 1.
    """
    issuer = LocalIssuer()
    issuer.add_client(CLIENT_ID, CLIENT_SECRET, scopes=(SCOPE,))
    print("Starting an identity provider and an MCP server on 127.0.0.1", file=out)
    with ExitStack() as stack:
        idp_url = stack.enter_context(issuer.serve())
        sock = stack.enter_context(socket.socket())
        sock.bind(("127.0.0.1", 0))
        resource = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        issuer.audience = resource  # what its token endpoint puts in aud
        stack.enter_context(_serving(_orders_server(idp_url, resource), sock))
        http = stack.enter_context(httpx.Client(timeout=10))
        print(f"  identity provider  {idp_url}", file=out)
        print(f"  MCP server         {resource}   (tool list_orders, needs {SCOPE})\n", file=out)
        steps = _tour(http, issuer, resource)
        print(_table(steps), file=out)
    passed = len(steps) == 6 and all(step.ok for step in steps)
    print(f"\n{sum(s.ok for s in steps)}/6 steps behaved as expected.", file=out)
    print("All servers stopped.", file=out)
    return 0 if passed else 1
