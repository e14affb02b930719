"""What bearer-token checking costs an ASGI service per request, under a real server.

    python benchmarks/asgi.py            # a few minutes
    python benchmarks/asgi.py --quick    # about a minute
    python benchmarks/asgi.py --json out.json

Four apps, each under its own uvicorn process on 127.0.0.1 (started here, stopped here,
and stopping by themselves after `--lifetime` seconds whatever happens):

- starlette: a one-route Starlette app, no auth;
- middleware: the same app wrapped in `accesstoken.asgi.AccessTokenMiddleware`;
- fastapi: a one-route FastAPI app, no auth;
- dependency: the same FastAPI route with `Depends(accesstoken.fastapi.BearerAuth(...))`.

A concurrent httpx client sends a bounded number of requests, interleaved in rounds
(every app once per round), each with a valid RS256 bearer token. The client shares the
machine's cores with the server (and, without httptools, uvicorn parses HTTP in pure
Python), so requests/s is mostly the client's and the HTTP stack's speed; each app also
reports its own process CPU time (`time.process_time()`, on an unauthenticated `/cpu`
route), giving server CPU µs per request.

Auth adds tens of µs to requests that cost several hundred under a server, so the figure
that the target is judged on comes from the same four apps called directly, in this
process, with an ASGI scope and no-op receive/send: many interleaved rounds, the collector
off inside a round. "Extra" is the auth app's µs per request minus its no-auth twin's in the
same round, its median over rounds (a median of paired differences: a drift of the
machine's speed between rounds cancels out). It is compared with `verify_async()` of the
same token timed in the same rounds twice: in a tight loop (hot caches, the optimistic
figure) and between requests of the plain app (the plain app plus a verification, minus the
plain app in the same round: what verifying costs inside a request, where the app's code
has evicted the verifier's from the CPU caches).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from _common import asgi_scope, machine, median, publish
from accesstoken import StaticKeys, TokenVerifier
from accesstoken.testing import LocalIssuer

APPS = ("starlette", "middleware", "fastapi", "dependency")
PAIRS = {"middleware": "starlette", "dependency": "fastapi"}
ISSUER = "https://issuer.test/"
AUDIENCE = "api"
PUBLIC_KEY_ENV = "ACCESSTOKEN_BENCH_PUBLIC_KEY"
DIRECT_CALLS = 200


# -- the apps ------------------------------------------------------------------------------


def build_app(kind: str, public_key_pem: str) -> Any:
    """Return the ASGI app of one kind; every kind answers GET / and GET /cpu."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    verifier = TokenVerifier(StaticKeys.from_pem(public_key_pem), issuer=ISSUER, audience=AUDIENCE)

    async def cpu(_request: Any) -> JSONResponse:
        return JSONResponse({"cpu": time.process_time()})

    if kind in ("starlette", "middleware"):

        async def hello(_request: Any) -> PlainTextResponse:
            return PlainTextResponse("ok")

        app: Any = Starlette(routes=[Route("/", hello), Route("/cpu", cpu)])
        if kind == "middleware":
            from accesstoken.asgi import AccessTokenMiddleware

            app = AccessTokenMiddleware(app, verifier, exclude=("/cpu",))
        return app

    from fastapi import Depends, FastAPI

    from accesstoken import AccessToken
    from accesstoken.fastapi import BearerAuth

    api = FastAPI()
    api.add_route("/cpu", cpu)  # a plain Starlette route: no auth, no dependency injection
    if kind == "fastapi":

        @api.get("/", response_class=PlainTextResponse)
        async def plain() -> str:
            return "ok"

    else:
        auth = BearerAuth(verifier)

        @api.get("/", response_class=PlainTextResponse)
        async def protected(token: AccessToken = Depends(auth)) -> str:  # noqa: B008
            return "ok"

    return api


def serve(kind: str, port: int, lifetime: float) -> None:
    """Run one app under uvicorn until told to stop or until `lifetime` seconds have passed."""
    import uvicorn

    app = build_app(kind, os.environ[PUBLIC_KEY_ENV])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    timer = threading.Timer(lifetime, lambda: setattr(server, "should_exit", True))
    timer.daemon = True
    timer.start()
    server.run()


# -- under uvicorn -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(kind: str, public_key_pem: str, lifetime: float) -> Iterator[str]:
    """Start one app in a child uvicorn process; yield its URL; stop the child on exit."""
    port = _free_port()
    env = {**os.environ, PUBLIC_KEY_ENV: public_key_pem}
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    command += ["--lifetime", str(lifetime)]
    child = subprocess.Popen(command, env=env)
    try:
        _wait_for(port, child)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _wait_for(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError("the benchmark server exited before it listened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start listening")


async def _load(url: str, token: str, requests: int, concurrency: int) -> dict[str, float]:
    """Send `requests` GETs with `concurrency` in flight; return req/s and server CPU µs each."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        remaining = requests
        failures = 0

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                response = await client.get("/", headers=headers)
                if response.status_code != 200 or response.text != "ok":
                    failures += 1

        cpu_before = (await client.get("/cpu")).json()["cpu"]
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = (await client.get("/cpu")).json()["cpu"]
    if failures:
        raise RuntimeError(f"{failures} requests were refused: the benchmark is not measuring auth")
    return {"rps": requests / elapsed, "cpu_us": (cpu_after - cpu_before) / requests * 1e6}


async def _check_refusals(url: str, kind: str, bad_token: str) -> None:
    """Auth apps must refuse a request without a token and one with a bad token."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        missing = await client.get("/")
        bad = await client.get("/", headers={"Authorization": f"Bearer {bad_token}"})
    if missing.status_code != 401 or bad.status_code != 401:
        raise RuntimeError(f"{kind} let an unauthenticated request through")


def under_uvicorn(
    token: str, bad_token: str, pem: str, *, rounds: int, requests: int, concurrency: int,
    lifetime: float,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Return the median req/s and server CPU µs per request of each app under uvicorn."""
    samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in APPS}
    with contextlib.ExitStack() as stack:
        urls = {kind: stack.enter_context(running(kind, pem, lifetime)) for kind in APPS}
        for kind in PAIRS:
            asyncio.run(_check_refusals(urls[kind], kind, bad_token))
        for kind in APPS:  # warm-up: imports, first connections, header memo
            asyncio.run(_load(urls[kind], token, min(200, requests), concurrency))
        for round_number in range(rounds):
            for kind in APPS if round_number % 2 == 0 else APPS[::-1]:
                samples[kind].append(asyncio.run(_load(urls[kind], token, requests, concurrency)))
    return {
        kind: {
            "rps": median([sample["rps"] for sample in samples[kind]]),
            "cpu_us": median([sample["cpu_us"] for sample in samples[kind]]),
        }
        for kind in APPS
    }


# -- called directly -----------------------------------------------------------------------


def called_directly(token: str, pem: str, *, rounds: int) -> dict[str, float]:
    """Return the median µs per request of each app called directly, and of verify_async()."""
    apps = {kind: build_app(kind, pem) for kind in APPS}
    verifier = TokenVerifier(StaticKeys.from_pem(pem), issuer=ISSUER, audience=AUDIENCE)
    template = asgi_scope(token)
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def app_batch(app: Any) -> float:
        started = time.perf_counter_ns()
        for _ in range(DIRECT_CALLS):
            await app(dict(template), receive, send)
        return (time.perf_counter_ns() - started) / DIRECT_CALLS / 1000

    async def verify_batch() -> float:
        started = time.perf_counter_ns()
        for _ in range(DIRECT_CALLS):
            await verifier.verify_async(token)
        return (time.perf_counter_ns() - started) / DIRECT_CALLS / 1000

    async def app_and_verify_batch(app: Any) -> float:
        # verify_async() between requests of the plain app: its cost inside a request, with
        # the caches the app's own code leaves behind, but without any adapter code.
        started = time.perf_counter_ns()
        for _ in range(DIRECT_CALLS):
            await app(dict(template), receive, send)
            await verifier.verify_async(token)
        return (time.perf_counter_ns() - started) / DIRECT_CALLS / 1000

    async def measure() -> dict[str, list[float]]:
        names = (*APPS, "verify_async", "starlette+verify_async")
        samples: dict[str, list[float]] = {name: [] for name in names}
        for kind in APPS:
            await app_batch(apps[kind])  # warm-up
        for round_number in range(rounds):
            gc.collect()
            gc.disable()
            try:
                for kind in APPS if round_number % 2 == 0 else APPS[::-1]:
                    samples[kind].append(await app_batch(apps[kind]))
                samples["verify_async"].append(await verify_batch())
                both = await app_and_verify_batch(apps["starlette"])
                samples["starlette+verify_async"].append(both)
            finally:
                gc.enable()
        return samples

    samples = asyncio.run(measure())
    if statuses != {200}:
        raise RuntimeError(f"direct calls answered {sorted(statuses)}, not only 200")
    medians = {name: median(values) for name, values in samples.items()}

    def paired(name: str, base: str) -> float:
        # The median of the differences within each round, not the difference of the
        # medians: both were timed moments apart, so a drift of the machine's speed between
        # rounds (large on a shared VM) cancels out.
        return median([a - b for a, b in zip(samples[name], samples[base], strict=True)])

    medians["verify_in_request"] = paired("starlette+verify_async", "starlette")
    del medians["starlette+verify_async"]
    for kind, base in PAIRS.items():
        medians[f"{kind} extra"] = paired(kind, base)
    return medians


# -- the report ----------------------------------------------------------------------------


def run(
    *, rounds: int, requests: int, concurrency: int, lifetime: float, direct_rounds: int
) -> dict[str, Any]:
    issuer = LocalIssuer("RS256", issuer=ISSUER, audience=AUDIENCE)
    token = issuer.issue(scopes=["orders:read"], expires_in=3600)
    signing_input, _, signature = token.rpartition(".")
    bad_token = f"{signing_input}.{signature[::-1]}"
    pem = issuer.public_key_pem
    direct = called_directly(token, pem, rounds=direct_rounds)
    served = under_uvicorn(
        token, bad_token, pem, rounds=rounds, requests=requests, concurrency=concurrency,
        lifetime=lifetime,
    )  # fmt: skip
    results = {kind: {**served[kind], "direct_us": direct[kind]} for kind in APPS}
    for kind, base in PAIRS.items():
        results[kind]["extra_us"] = direct[f"{kind} extra"]
        results[kind]["extra_cpu_us"] = served[kind]["cpu_us"] - served[base]["cpu_us"]
    return {
        "machine": machine(),
        "algorithm": "RS256",
        "rounds": rounds,
        "requests_per_round": requests,
        "concurrency": concurrency,
        "direct_rounds": direct_rounds,
        "verify_async_us": direct["verify_async"],
        "verify_in_request_us": direct["verify_in_request"],
        "results": results,
    }


def report(data: dict[str, Any]) -> str:
    """Return the results as a Markdown table and one verdict per auth app."""
    verify_us = data["verify_async_us"]
    lines = [
        f"Under uvicorn: {data['rounds']} rounds × {data['requests_per_round']} requests per "
        f"app, {data['concurrency']} in flight. Called directly: {data['direct_rounds']} "
        f"rounds × {DIRECT_CALLS} requests. RS256, medians (extras: of the differences "
        "within each round).",
        "",
        "| app | req/s (uvicorn) | server CPU µs/req | µs/req called directly "
        "| extra µs/req (direct) | extra CPU µs/req (uvicorn) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for kind in APPS:
        row = data["results"][kind]
        extra = f"{row['extra_us']:.1f}" if "extra_us" in row else "—"
        cpu = f"{row['extra_cpu_us']:.1f}" if "extra_cpu_us" in row else "—"
        lines.append(
            f"| {kind} | {row['rps']:.0f} | {row['cpu_us']:.1f} | {row['direct_us']:.1f} "
            f"| {extra} | {cpu} |"
        )
    in_request = data["verify_in_request_us"]
    lines += [
        "",
        f"verify_async() of the same token, same rounds: {verify_us:.1f} µs in a tight loop, "
        f"{in_request:.1f} µs between requests of the plain Starlette app",
    ]
    for kind in PAIRS:
        extra = data["results"][kind]["extra_us"]
        for label, verify in (("in a request", in_request), ("tight loop", verify_us)):
            verdict = "met" if extra <= verify + 15 else "MISSED"
            lines.append(
                f"[{verdict}] {kind}: extra {extra:.1f} µs ≤ verify ({label}) + 15 µs "
                f"= {verify + 15:.1f} µs"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--rounds", type=int, help="uvicorn rounds (default 2 quick, 5 full)")
    parser.add_argument("--requests", type=int, help="requests per app per uvicorn round")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--lifetime", type=float, default=600, help="seconds after which servers stop anyway"
    )
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.lifetime)
        return 0
    started = time.monotonic()
    data = run(
        rounds=args.rounds or (2 if args.quick else 5),
        requests=args.requests or (500 if args.quick else 2000),
        concurrency=args.concurrency,
        lifetime=args.lifetime,
        direct_rounds=31 if args.quick else 201,
    )
    data["seconds"] = round(time.monotonic() - started, 1)
    publish(data, report(data), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
