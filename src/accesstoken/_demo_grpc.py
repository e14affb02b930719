"""`accesstoken demo-grpc`: a gRPC service guarded by `AccessTokenInterceptor`, on 127.0.0.1.

Two servers start, each on a free port of 127.0.0.1:

- an identity provider (the testing kit's `LocalIssuer`): discovery and the JWK Set;
- a `grpc.server` whose `AccessTokenInterceptor` checks tokens with keys found by
  `OIDCDiscovery`. It serves `orders.v1.Orders` (`List` needs `orders:read`, `Cancel`
  needs `orders:write`) and a health check under an excluded prefix, with generic handlers
  on raw bytes: no generated code.

A client then calls it over a real channel and a table says what each call got: the status
code, whether the interceptor refused the call or the handler answered it, and under each
refusal the `www-authenticate` challenge of its trailing metadata. The identity provider is
down for the first guarded call, so the service has no keys yet: `UNAVAILABLE`, which a
client retries, where `UNAUTHENTICATED` asks it for another token. Everything stops at the
end.

Needs the extra `accesstoken[grpc]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Final, TextIO, cast

from ._demo_report import Step, collected_logs, report
from ._keys.discovery import OIDCDiscovery
from ._verifier import TokenVerifier
from .grpc import AccessTokenInterceptor, current_token  # without the extra: names it
from .testing import LocalIssuer

# isort: split
# accesstoken.grpc, imported above, has said what is missing.
import grpc

__all__ = ["run_grpc_demo"]

AUDIENCE: Final = "orders-api"
CLIENT_ID: Final = "reporting-job"
SERVICE: Final = "orders.v1.Orders"
LIST: Final = f"/{SERVICE}/List"
CANCEL: Final = f"/{SERVICE}/Cancel"
HEALTH: Final = "/grpc.health.v1.Health/Check"
SCOPES: Final = {LIST: ("orders:read",), CANCEL: ("orders:write",)}
# The statuses whose trailing metadata carries a challenge (RFC 6750 §3).
CHALLENGED: Final = ("UNAUTHENTICATED", "PERMISSION_DENIED")
# A proxy named in the environment has no business with calls to 127.0.0.1.
CHANNEL_OPTIONS: Final = [("grpc.enable_http_proxy", 0)]


class _Orders:
    """The guarded service; it counts the calls its handlers answered."""

    def __init__(self) -> None:
        self.answered = 0

    def list_orders(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.answered += 1
        return f"handler saw sub={current_token().subject}".encode()

    def cancel_order(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.answered += 1
        return f"cancelled for sub={current_token().subject}".encode()

    def check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.answered += 1
        return b"SERVING (no token asked for)"

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        orders: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
            "List": grpc.unary_unary_rpc_method_handler(self.list_orders),
            "Cancel": grpc.unary_unary_rpc_method_handler(self.cancel_order),
        }
        health: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
            "Check": grpc.unary_unary_rpc_method_handler(self.check),
        }
        return [
            grpc.method_handlers_generic_handler(SERVICE, orders),
            grpc.method_handlers_generic_handler("grpc.health.v1.Health", health),
        ]


@contextmanager
def _serving(service: _Orders, verifier: TokenVerifier) -> Iterator[str]:
    """Run a `grpc.server` guarded by the interceptor while the context lasts; yield its address."""
    interceptor = AccessTokenInterceptor(
        verifier, scopes=SCOPES, exclude=("/grpc.health.v1.Health/",)
    )
    with ThreadPoolExecutor(2) as pool:
        server = grpc.server(pool, interceptors=[interceptor])
        server.add_generic_rpc_handlers(service.handlers())
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            yield f"127.0.0.1:{port}"
        finally:
            server.stop(None).wait(10)


def _call(
    channel: grpc.Channel, service: _Orders, title: str, expected: str, method: str, token: str
) -> Step:
    """Call `method` with `token` (none if empty); return the step, with what came back."""
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
    answered = service.answered
    step = Step(title, expected)
    try:
        step.detail = call(b"", metadata=metadata, timeout=10).decode()
        step.got = "OK"
    except grpc.RpcError as error:
        step.got = error.code().name
        step.detail = error.details() or ""
        trailers = cast(grpc.Call, error).trailing_metadata() or ()  # the error is the call
        challenge = dict(trailers).get("www-authenticate")
        step.challenge = challenge if isinstance(challenge, str) else None
    step.hop = "handler" if service.answered > answered else "interceptor"
    # A refusal never reaches the handler; it names its challenge, except UNAVAILABLE (a 503).
    step.extra_ok = (step.hop == "handler") == (step.got == "OK") and (
        step.challenge is not None if step.got in CHALLENGED else step.challenge is None
    )
    return step


def _tour(channel: grpc.Channel, service: _Orders, issuer: LocalIssuer) -> list[Step]:
    """Make the scripted calls; return each step with its outcome."""

    def step(title: str, expected: str, method: str, token: str = "") -> None:
        steps.append(_call(channel, service, title, expected, method, token))

    steps: list[Step] = []
    reader = issuer.issue(CLIENT_ID, ["orders:read"])
    step("health check, no token (excluded prefix)", "OK", HEALTH)
    with issuer.outage():
        step("IdP down, no keys fetched yet: List", "UNAVAILABLE", LIST, reader)
    step("IdP back up, same token: List", "OK", LIST, reader)
    step("same token: Cancel (needs orders:write)", "PERMISSION_DENIED", CANCEL, reader)
    writer = issuer.issue(CLIENT_ID, ["orders:write"])
    step("token with orders:write: Cancel", "OK", CANCEL, writer)
    step("no token: List", "UNAUTHENTICATED", LIST)
    expired = issuer.issue(CLIENT_ID, ["orders:read"], expires_in=-600)
    step("expired token: List", "UNAUTHENTICATED", LIST, expired)
    return steps


def run_grpc_demo(out: TextIO) -> int:
    """Start the identity provider and the gRPC server, make the calls, print the table.

    Returns:
        0 when every step got what it expected, else 1.
    """
    issuer = LocalIssuer(audience=AUDIENCE)
    service = _Orders()
    print("Starting an identity provider and a gRPC server on 127.0.0.1", file=out)
    with ExitStack() as stack:
        idp_url = stack.enter_context(issuer.serve())
        # Keys are fetched on the first guarded call; after a failure, again on the next.
        keys = OIDCDiscovery(idp_url, min_refresh_interval=0)
        verifier = TokenVerifier(keys, issuer=idp_url, audience=AUDIENCE)
        address = stack.enter_context(_serving(service, verifier))
        channel = stack.enter_context(grpc.insecure_channel(address, options=CHANNEL_OPTIONS))
        print(f"  identity provider  {idp_url}", file=out)
        print(f"  gRPC server        {address}   (AccessTokenInterceptor)", file=out)
        print(f"    {LIST:<31} needs orders:read", file=out)
        print(f"    {CANCEL:<31} needs orders:write", file=out)
        print(f"    {HEALTH:<31} excluded: no token checked\n", file=out)
        with collected_logs() as logs:
            steps = _tour(channel, service, issuer)
        passed = report(steps, logs, out, challenged=CHALLENGED, challenge_name="www-authenticate")
    print("All servers stopped.", file=out)
    return 0 if passed else 1
