"""What the Django, DRF, Starlette and gRPC adapters add to a request, called in-process.

    python benchmarks/frameworks.py            # about a minute
    python benchmarks/frameworks.py --quick
    python benchmarks/frameworks.py --json out.json

For each framework, three versions of one endpoint answer the same request, carrying a valid
RS256 token:

- bare: the framework alone, no authentication;
- ours: guarded by the adapter (`@require_token()`, `BearerAuthentication`, `BearerBackend`
  behind Starlette's `AuthenticationMiddleware`, `AccessTokenInterceptor`);
- pyjwt: the same framework hook written by hand around PyJWT (`jwt.decode` with the key
  loaded once, issuer, audience and `exp` required): what a service writes without us;
- hook: the same hook accepting every request without a look (what the framework's
  authentication machinery costs by itself); stub: ours with a verifier that checks
  nothing (ours minus the signature check).

The request is handed to the framework's own entry point (the view, `APIView.as_view()`,
the ASGI app with a prepared scope, the interceptor then the handler, as `grpc.server` calls
them), without a server, in many interleaved rounds with the collector off. "Extra" is a
version's µs per request minus bare's in the same round, its median over rounds (paired
differences: a drift of the machine's speed cancels out). `verify()` of the same token is
timed in the same rounds; the target is extra ≤ verify + 15 µs, and below pyjwt's extra.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from _common import asgi_scope, machine, median, publish
from accesstoken import AccessToken, StaticKeys, TokenVerifier
from accesstoken.testing import LocalIssuer

AUDIENCE = "api"
CALLS = 200
Batch = Callable[[int], None]

ISSUER = LocalIssuer(audience=AUDIENCE)
TOKEN = ISSUER.issue(subject="alice", scopes=["orders:read"])
AUTHORIZATION = f"Bearer {TOKEN}"
REAL = TokenVerifier(
    StaticKeys.from_pem(ISSUER.public_key_pem), issuer=ISSUER.issuer, audience=AUDIENCE
)
ACCEPTED = REAL.verify(TOKEN)


class Switch:
    """The verifier every adapter is given: the real one, or one that checks nothing.

    With the stub, a request costs the adapter's own work alone, whatever the noise of a
    signature check: the figure that the 15 µs budget is about.
    """

    def __init__(self) -> None:
        self.stub = False

    def verify(self, raw: str | bytes, scopes: Any = ()) -> AccessToken:
        return ACCEPTED if self.stub else REAL.verify(raw, scopes)

    async def verify_async(self, raw: str | bytes, scopes: Any = ()) -> AccessToken:
        return ACCEPTED if self.stub else await REAL.verify_async(raw, scopes)


VERIFIER = Switch()
_KEY = load_pem_public_key(ISSUER.public_key_pem.encode())


def by_hand(authorization: str | None) -> dict[str, Any]:
    """The check a service writes with PyJWT: the scheme, then a strict decode."""
    if authorization is None or not authorization.startswith("Bearer "):
        raise PermissionError("no bearer token")
    return jwt.decode(
        authorization[7:],
        _KEY,  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER.issuer,
        options={"require": ["exp", "iss", "aud"]},
    )


# -- Django and DRF ------------------------------------------------------------------------


def django_batches() -> dict[str, dict[str, Batch]]:
    import django
    from django.conf import settings

    settings.configure(
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        ACCESSTOKEN_VERIFIER=f"{__name__}.VERIFIER",
    )
    django.setup()
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from accesstoken import TokenUser
    from accesstoken.django import BearerAuthentication, require_token

    request = RequestFactory().get("/", HTTP_AUTHORIZATION=AUTHORIZATION)

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    def hand_view(request: HttpRequest) -> HttpResponse:
        try:
            request.claims = by_hand(request.META.get("HTTP_AUTHORIZATION"))  # type: ignore[attr-defined]
        except (PermissionError, jwt.InvalidTokenError):
            return HttpResponse(status=401)
        return view(request)

    def hook_view(request: HttpRequest) -> HttpResponse:
        return view(request)

    class Fixed(BaseAuthentication):  # the hook, checking nothing
        def authenticate(self, request: Request) -> tuple[Any, Any]:
            return TokenUser(ACCEPTED), ACCEPTED

    class Hand(BaseAuthentication):
        def authenticate(self, request: Request) -> tuple[Any, Any] | None:
            claims = by_hand(request.META.get("HTTP_AUTHORIZATION"))
            token = AccessToken("", {}, claims)
            return TokenUser(token), token

    def api(*authentication: Any) -> Any:
        class View(APIView):
            authentication_classes = authentication
            permission_classes = (IsAuthenticated,) if authentication else ()

            def get(self, request: Request) -> Response:
                return Response("ok")

        return View.as_view()

    def batch(call: Callable[[Any], Any]) -> Batch:
        def run(n: int) -> None:
            for _ in range(n):
                assert call(request).status_code == 200

        return run

    return {
        "django": {
            "bare": batch(view),
            "ours": batch(require_token()(view)),
            "pyjwt": batch(hand_view),
            "hook": batch(hook_view),
        },
        "drf": {
            "bare": batch(api()),
            "ours": batch(api(BearerAuthentication)),
            "pyjwt": batch(api(Hand)),
            "hook": batch(api(Fixed)),
        },
    }


# -- Starlette -----------------------------------------------------------------------------


def starlette_batches() -> dict[str, Batch]:
    from starlette.applications import Starlette
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        SimpleUser,
    )
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from accesstoken.starlette import BearerBackend

    class Fixed(AuthenticationBackend):  # the hook, checking nothing
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
            return AuthCredentials(["authenticated"]), SimpleUser("alice")

    class Hand(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
            try:
                claims = by_hand(conn.headers.get("authorization"))
            except (PermissionError, jwt.InvalidTokenError) as exc:
                raise AuthenticationError("invalid token") from exc
            return AuthCredentials(claims.get("scope", "").split()), SimpleUser(claims["sub"])

    async def hello(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    def app(backend: AuthenticationBackend | None) -> Any:
        middleware = [Middleware(AuthenticationMiddleware, backend=backend)] if backend else []
        return Starlette(routes=[Route("/", hello)], middleware=middleware)

    scope = asgi_scope(TOKEN)
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200

    def batch(asgi: Any) -> Batch:
        async def many(n: int) -> None:
            for _ in range(n):
                await asgi(dict(scope), receive, send)

        return lambda n: loop.run_until_complete(many(n))

    ours = app(BearerBackend(VERIFIER))  # type: ignore[arg-type]
    hand, hook = batch(app(Hand())), batch(app(Fixed()))
    return {"bare": batch(app(None)), "ours": batch(ours), "pyjwt": hand, "hook": hook}


# -- gRPC ----------------------------------------------------------------------------------


def grpc_batches() -> dict[str, Batch]:
    import grpc

    from accesstoken.grpc import AccessTokenInterceptor

    class Details:
        method = "/orders.v1.Orders/Get"
        invocation_metadata = (("authorization", AUTHORIZATION),)

    class Context:
        def invocation_metadata(self) -> Any:
            return Details.invocation_metadata

        def abort(self, code: Any, details: str) -> None:
            raise AssertionError("refused")

    class Fixed(grpc.ServerInterceptor):  # the hook, checking nothing
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            handler = continuation(details)
            return grpc.unary_unary_rpc_method_handler(lambda r, c: handler.unary_unary(r, c))

    class Hand(grpc.ServerInterceptor):
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            handler = continuation(details)

            def guarded(request: bytes, context: Any) -> Any:
                metadata = dict(context.invocation_metadata())
                try:
                    by_hand(metadata.get("authorization"))
                except (PermissionError, jwt.InvalidTokenError):
                    context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid token")
                return handler.unary_unary(request, context)

            return grpc.unary_unary_rpc_method_handler(guarded)

    handler = grpc.unary_unary_rpc_method_handler(lambda _request, _context: b"ok")
    details, context = Details(), Context()

    def batch(interceptor: Any) -> Batch:
        def run(n: int) -> None:
            for _ in range(n):  # as grpc.server does: find the handler, then run it
                found = handler
                if interceptor is not None:
                    found = interceptor.intercept_service(lambda _d: handler, details)
                assert found.unary_unary(b"", context) == b"ok"

        return run

    ours = AccessTokenInterceptor(VERIFIER)  # type: ignore[arg-type]
    return {
        "bare": batch(None),
        "ours": batch(ours),
        "pyjwt": batch(Hand()),
        "hook": batch(Fixed()),
    }


# -- measuring -----------------------------------------------------------------------------


def verify_batch(n: int) -> None:
    for _ in range(n):
        REAL.verify(TOKEN)


def measure(batches: dict[str, Batch], rounds: int) -> dict[str, float]:
    """Return µs per request of each version, and medians of the paired differences."""

    def stubbed(n: int) -> None:
        VERIFIER.stub = True
        try:
            batches["ours"](n)
        finally:
            VERIFIER.stub = False

    def bare_and_verify(n: int) -> None:
        for _ in range(n):
            batches["bare"](1)
            REAL.verify(TOKEN)

    versions = {**batches, "stub": stubbed, "verify": verify_batch, "bare_verify": bare_and_verify}
    for run in versions.values():
        run(CALLS // 4)  # warm up
    timings: dict[str, list[float]] = {name: [] for name in versions}
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            for name, run in versions.items():
                started = time.perf_counter_ns()
                run(CALLS)
                timings[name].append((time.perf_counter_ns() - started) / CALLS / 1000)
        finally:
            gc.enable()
    result = {f"{name}_us": median(values) for name, values in timings.items()}
    for name in ("ours", "pyjwt", "stub", "hook", "bare_verify"):
        pairs = zip(timings[name], timings["bare"], strict=True)
        result[f"{name}_extra_us"] = median([version - bare for version, bare in pairs])
    return result


def report(data: dict[str, Any]) -> str:
    lines = [
        "µs per request, medians over rounds; +x = that version minus bare in the same round",
        "hook: the framework's auth hook checking nothing; stub: ours with a verifier that"
        " checks nothing",
        "verify: verify() alone, in a loop; in request: bare+verify() minus bare (cold caches)",
        f"{'framework':<10} {'bare':>7} {'+ours':>7} {'+pyjwt':>7} {'+hook':>7} {'+stub':>7}"
        f" {'verify':>7} {'in request':>10}  ours ≤ verify + 15 and < pyjwt",
    ]
    lines.extend(_row(framework, row) for framework, row in data["frameworks"].items())
    return "\n".join(lines)


def _row(framework: str, row: dict[str, float]) -> str:
    verify, ours = row["bare_verify_extra_us"], row["ours_extra_us"]
    met = ours <= verify + 15 and ours < row["pyjwt_extra_us"]
    extras = (row[f"{name}_extra_us"] for name in ("pyjwt", "hook", "stub"))
    figures = (row["bare_us"], ours, *extras, row["verify_us"])
    columns = " ".join(f"{figure:7.1f}" for figure in figures)
    return f"{framework:<10} {columns} {verify:10.1f}  {'met' if met else 'missed'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds or (15 if args.quick else 60)
    started = time.monotonic()
    suites = {**django_batches(), "starlette": starlette_batches(), "grpc": grpc_batches()}
    frameworks = {name: measure(batches, rounds) for name, batches in suites.items()}
    data = {
        "machine": machine(),
        "rounds": rounds,
        "calls_per_round": CALLS,
        "frameworks": frameworks,
        "seconds": round(time.monotonic() - started, 1),
    }
    publish(data, report(data), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
