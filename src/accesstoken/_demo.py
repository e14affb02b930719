"""`accesstoken demo`: the Access Token pattern at work, on 127.0.0.1, in one command.

Three servers start, each on a free port of 127.0.0.1:

- an identity provider (the testing kit's `LocalIssuer`): discovery, JWK Set, a
  client-credentials token endpoint and RFC 7662 introspection for opaque tokens;
- an API gateway: `AccessTokenMiddleware` in front of a small proxy that forwards the
  caller's token to the service with `ForwardToken`;
- an orders service: `AccessTokenMiddleware` again, demanding the `orders:read` scope.

Both check tokens themselves, with keys found by `OIDCDiscovery`: the gateway keeps junk
out, the service decides what the caller may do. A `TokenRouter` sends JWTs to that check
and opaque tokens to introspection; the gateway also asks a `MemoryDenylist`, so a JWT
revoked mid-tour is refused there. A scripted tour then sends requests and
prints a table of what came back: which hop answered (the gateway marks what it forwards
with `Via`, RFC 9110 §7.6.3), and the `WWW-Authenticate` challenge of every 401 and 403.
Everything stops at the end and the ports are freed.

Only the core's dependencies are needed: the servers are the standard library's, and the
ASGI applications run on one event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Final, TextIO, TypeVar
from urllib.parse import unquote

import httpx

from ._demo_report import Step, collected_logs, report
from ._introspection import IntrospectionVerifier
from ._keys.discovery import OIDCDiscovery
from ._router import TokenRouter
from ._verifier import TokenVerifier
from .asgi import AccessTokenMiddleware, ASGIApp, Message, Receive, Scope, Send
from .forwarding import ForwardToken
from .revocation import MemoryDenylist
from .testing import DPoPKey, LocalIssuer
from .testing._server import App, Request, Response, serve_in_thread

__all__ = ["run_demo"]

T = TypeVar("T")

AUDIENCE: Final = "orders-api"
SCOPE: Final = "orders:read"
CLIENT_ID: Final = "reporting-job"
CLIENT_SECRET: Final = "demo-secret"  # noqa: S105 - a throwaway client of a throwaway issuer
# The client the gateway and the service introspect opaque tokens as.
RESOURCE_ID: Final = "orders-resource-server"
RESOURCE_SECRET: Final = "demo-introspection-secret"  # noqa: S105 - throwaway, as above
# Key sets go stale after a second, so the outage step really runs on stale keys.
CACHE_TTL: Final = 1.0
# What the gateway adds to the answers it forwards; an answer without it is the gateway's own.
VIA: Final = "1.0 gateway"


# --- ASGI on the standard library's server ------------------------------------------------


class _EventLoop:
    """One asyncio loop in a daemon thread, running every ASGI call of the demo."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coroutine` on the loop from another thread; return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @contextmanager
    def running(self) -> Iterator[_EventLoop]:
        self._thread.start()
        try:
            yield self
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()


def _asgi_app(app: ASGIApp, loop: _EventLoop) -> App:
    """Return a server application that runs each request through the ASGI `app`."""

    def handle(request: Request) -> Response:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.0",
            "method": request.method,
            "scheme": "http",
            "path": unquote(request.path),
            "raw_path": request.path.encode(),
            "query_string": request.query.encode(),
            "root_path": "",
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.items()
            ],
            "state": {},
        }
        messages: list[Message] = []
        request_sent = False

        async def receive() -> Message:
            nonlocal request_sent
            if request_sent:
                return {"type": "http.disconnect"}
            request_sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: Message) -> None:
            messages.append(message)

        async def call() -> None:
            await app(scope, receive, send)

        loop.run(call())
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in start.get("headers", [])
            if name.lower() != b"content-length"
        }
        return Response(start["status"], body, headers)

    return handle


async def _send_json(send: Send, status: int, document: Any, headers: Any = ()) -> None:
    body = json.dumps(document).encode()
    start_headers = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


# --- the two services ------------------------------------------------------------------


def _orders_service() -> ASGIApp:
    """Return the downstream service: it answers with what the forwarded token says."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        token = scope["state"]["access_token"]
        orders = [{"id": 1, "item": "coffee beans"}, {"id": 2, "item": "filters"}]
        await _send_json(send, 200, {"served_for": token.subject, "orders": orders})

    return app


def _gateway(orders: httpx.AsyncClient) -> ASGIApp:
    """Return the gateway's proxy: it forwards the caller's verified token to the service."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/health":
            await _send_json(send, 200, {"status": "ok"})
            return
        token = scope["state"]["access_token"]
        try:
            answer = await orders.get(scope["path"], auth=ForwardToken(token))
        except httpx.HTTPError:
            await _send_json(send, 502, {"error": "bad_gateway"})
            return
        passed = ("www-authenticate", "retry-after")
        headers = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k in passed]
        headers.append((b"via", VIA.encode()))
        await _send_json(send, answer.status_code, answer.json(), headers)

    return app


# --- the tour --------------------------------------------------------------------------


@dataclass
class _Demo:
    """The running servers and what the tour needs to reach them."""

    issuer: LocalIssuer
    idp_url: str
    gateway_url: str
    orders_url: str
    http: httpx.Client
    denylist: MemoryDenylist

    def call(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.get(f"{self.gateway_url}{path}", headers=headers)

    def client_credentials(self) -> httpx.Response:
        return self.http.post(
            f"{self.idp_url}/token",
            data={"grant_type": "client_credentials", "scope": SCOPE},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )

    def hop(self, response: httpx.Response) -> str:
        """Return who answered: the IdP, the gateway itself, or the service through it."""
        if str(response.url).startswith(self.idp_url):
            return "IdP"
        return "service" if response.headers.get("via") == VIA else "gateway"

    def jwks_fetches(self) -> int:
        return self.issuer.requests["/jwks.json"]

    def introspections(self) -> int:
        return self.issuer.requests["/introspect"]


def _describe(response: httpx.Response) -> str:
    """Return what a response says, in one short line."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if "error" in body:
        description = body.get("error_description")
        return f"{body['error']}: {description}" if description else str(body["error"])
    if "error_description" in body:
        return f"(no error code) {body['error_description']}"
    if "served_for" in body:
        return f"service saw sub={body['served_for']} (token forwarded)"
    if "access_token" in body:
        return f"token for {CLIENT_ID}, scope {body.get('scope', '')}"
    return ""


def _tour(demo: _Demo) -> list[Step]:
    """Send the scripted requests; return each step with its outcome."""
    issuer = demo.issuer
    steps: list[Step] = []

    def step(
        title: str, expected: int, send: Callable[[], httpx.Response], *, refetch: str = ""
    ) -> httpx.Response | None:
        """Send one request; with `refetch`, the JWK Set must also have been asked for."""
        fetches = demo.jwks_fetches()
        try:
            response = send()
        except httpx.HTTPError as exc:  # shown in the table as a failed step
            steps.append(Step(title, expected, None, f"no answer ({type(exc).__name__})"))
            return None
        done = Step(title, expected, response.status_code, _describe(response))
        done.hop = demo.hop(response)
        if response.status_code in (401, 403):  # RFC 6750 §3: a refusal names its challenge
            done.challenge = response.headers.get("www-authenticate")
            done.extra_ok = done.challenge is not None
        if refetch:
            done.extra_ok = demo.jwks_fetches() > fetches
            note = refetch if done.extra_ok else "the JWK Set was NOT fetched again"
            done.detail = f"{note}; {done.detail}"
        steps.append(done)
        return response

    granted = step("client credentials grant at the IdP", 200, demo.client_credentials)
    token = granted.json().get("access_token") if granted and granted.status_code == 200 else None
    step("valid token, forwarded to the service", 200, lambda: demo.call("/orders", token))
    opaque = issuer.issue_opaque(CLIENT_ID, [SCOPE])
    asked = demo.introspections()
    title = "opaque token, checked by introspection"
    if step(title, 200, lambda: demo.call("/orders", opaque)) is not None:
        steps[-1].extra_ok = demo.introspections() > asked
        note = "IdP asked" if steps[-1].extra_ok else "the IdP was NOT asked"
        steps[-1].detail = f"{note}; {steps[-1].detail}"
    if token:  # the gateway's denylist learns of it, as from a logout or an RFC 7009 call
        demo.denylist.revoke(issuer.verifier().verify(token))
    title = "token of step 2, revoked mid-tour"
    step(title, 401, lambda: demo.call("/orders", token))
    step("no token", 401, lambda: demo.call("/orders"))
    expired = issuer.issue(CLIENT_ID, [SCOPE], expires_in=-600)
    step("expired token", 401, lambda: demo.call("/orders", expired))
    tampered = _tamper(issuer.issue(CLIENT_ID, [SCOPE]))
    step("tampered token (payload changed)", 401, lambda: demo.call("/orders", tampered))
    other = issuer.issue(CLIENT_ID, [SCOPE], aud="billing-api")
    step("token for another audience", 401, lambda: demo.call("/orders", other))
    bound = issuer.issue(CLIENT_ID, [SCOPE], dpop_key=DPoPKey())  # RFC 9449: bound to a key
    title = "stolen DPoP-bound token, without its key"
    step(title, 401, lambda: demo.call("/orders", bound))
    no_scope = issuer.issue(CLIENT_ID, ["profile"])
    step("token without orders:read (service ACL)", 403, lambda: demo.call("/orders", no_scope))

    issuer.rotate()
    rotated = issuer.issue(CLIENT_ID, [SCOPE])
    title = "key rotation: token signed with a new key"
    step(title, 200, lambda: demo.call("/orders", rotated), refetch="new kid fetched")

    with issuer.outage():
        probe = f"{demo.idp_url}/.well-known/openid-configuration"
        title = "IdP down: probed directly, not via gateway"
        step(title, 503, lambda: demo.http.get(probe))
        time.sleep(CACHE_TTL + 0.2)  # let the cached key sets go stale
        fresh = issuer.issue(CLIENT_ID, [SCOPE])
        title = "IdP down: cached keys still verify"
        note = "refresh failed, cached keys used"
        step(title, 200, lambda: demo.call("/orders", fresh), refetch=note)
    return steps


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if payload[10] != "A" else "B"
    return ".".join((header, payload[:10] + flipped + payload[11:], signature))


# --- running it ------------------------------------------------------------------------


def _verifier(
    issuer_url: str, client: httpx.AsyncClient, revocation: MemoryDenylist | None = None
) -> TokenRouter:
    """Return the check of one server: JWTs with discovered keys, opaque tokens introspected."""
    keys = OIDCDiscovery(
        issuer_url, async_http_client=client, cache_ttl=CACHE_TTL, min_refresh_interval=0
    )
    jwt = TokenVerifier(keys, issuer=issuer_url, audience=AUDIENCE, revocation=revocation)
    opaque = IntrospectionVerifier.from_discovery(
        issuer_url,
        audience=AUDIENCE,
        client_id=RESOURCE_ID,
        client_secret=RESOURCE_SECRET,
        async_http_client=client,
        min_refresh_interval=0,
    )
    return TokenRouter(jwt=jwt, opaque=opaque)


def run_demo(out: TextIO, *, keep_running: bool = False) -> int:
    """Start the three servers, play the tour, print the table; return the exit code.

    Args:
        out: where the table goes.
        keep_running: after the tour, keep the servers up until Ctrl-C and print how to
            call them.

    Returns:
        0 when every step got what it expected, else 1.
    """
    issuer = LocalIssuer(audience=AUDIENCE)
    issuer.add_client(CLIENT_ID, CLIENT_SECRET, scopes=(SCOPE,))
    issuer.add_client(RESOURCE_ID, RESOURCE_SECRET)
    denylist = MemoryDenylist()
    issuer.token_lifetime = 3600 if keep_running else 300
    print("Starting an identity provider, a gateway and an orders service on 127.0.0.1", file=out)
    with _EventLoop().running() as loop, ExitStack() as stack:
        idp_url = stack.enter_context(issuer.serve())
        key_clients = [httpx.AsyncClient(timeout=5) for _ in range(2)]
        for client in key_clients:
            stack.callback(loop.run, client.aclose())
        orders = AccessTokenMiddleware(
            _orders_service(), _verifier(idp_url, key_clients[0]), scopes=(SCOPE,)
        )
        orders_url = stack.enter_context(serve_in_thread(_asgi_app(orders, loop)))
        to_orders = httpx.AsyncClient(base_url=orders_url, timeout=5)
        stack.callback(loop.run, to_orders.aclose())
        gateway = AccessTokenMiddleware(
            _gateway(to_orders),
            _verifier(idp_url, key_clients[1], revocation=denylist),
            exclude=("/health",),
        )
        gateway_url = stack.enter_context(serve_in_thread(_asgi_app(gateway, loop)))
        http = stack.enter_context(httpx.Client(timeout=10))
        demo = _Demo(issuer, idp_url, gateway_url, orders_url, http, denylist)

        print(f"  identity provider  {idp_url}", file=out)
        print(f"  gateway            {gateway_url}   (checks every token)", file=out)
        print(f"  orders service     {orders_url}   (checks again, demands {SCOPE})\n", file=out)
        with collected_logs() as logs:
            steps = _tour(demo)
        passed = report(steps, logs, out)
        if keep_running:
            _wait_for_ctrl_c(demo, out)
    print("All servers stopped.", file=out)
    return 0 if passed else 1


def _wait_for_ctrl_c(demo: _Demo, out: TextIO) -> None:
    token = demo.issuer.issue(CLIENT_ID, [SCOPE], expires_in=3600)
    print(
        "\nThe servers keep running; press Ctrl-C to stop them.\n"
        f"  discovery:  {demo.idp_url}/.well-known/openid-configuration\n"
        f"  JWK Set:    {demo.idp_url}/jwks.json\n"
        f"  gateway:    {demo.gateway_url}/orders\n"
        f"  service:    {demo.orders_url}/orders\n"
        "\nTry it (the token is valid for an hour):\n"
        f'  curl -i -H "Authorization: Bearer {token}" {demo.gateway_url}/orders\n'
        "\nGet a fresh token from the identity provider:\n"
        f"  curl -s -u {CLIENT_ID}:{CLIENT_SECRET} -d grant_type=client_credentials "
        f"-d scope={SCOPE} {demo.idp_url}/token",
        file=out,
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nStopping ...", file=out)
