"""A cold, failing or rotated JWK Set under a stampede: fetches made, time each caller waits.

    python benchmarks/jwks.py              # about 10 s
    python benchmarks/jwks.py --json out.json

A JWK Set is served on 127.0.0.1 by a small threaded server (started and stopped here)
that answers after `--delay` seconds, so that every caller arrives while the first fetch
is still under way. For each scenario, 100 threads (`verify()`) and, separately, 100
asyncio tasks (`verify_async()`) verify a token at the same moment, and the script reports
how many HTTP requests reached the server, whether every verification succeeded, and
the p50/p99 latency of one verification:

- cold: a new `JWKSEndpoint` that has never fetched; exactly one request is allowed;
- outage: the set has expired and the server answers 503; the stale set keeps serving
  (one refresh attempt, then the cooldown; no caller fails);
- rotation: tokens signed by a new key the cached set does not hold; one forced refresh
  brings the new key, and every caller verifies.

The endpoint runs on an injected clock, so "the set has expired" and "the cooldown has
passed" happen at once instead of after real waits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import machine, median, percentile, publish
from accesstoken import JWKSEndpoint, TokenVerifier
from accesstoken.testing import LocalIssuer
from accesstoken.testing._server import Request, Response, serve_in_thread

CALLERS = 100
ISSUER = "https://issuer.test/"
AUDIENCE = "api"


class JWKSServer:
    """Serves an issuer's JWK Set slowly, counts requests, and can be told to fail."""

    def __init__(self, issuer: LocalIssuer, delay: float) -> None:
        self.issuer = issuer
        self.delay = delay
        self.available = True
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
        time.sleep(self.delay)
        if not self.available:
            return Response.json({"error": "temporarily_unavailable"}, 503)
        return Response.json(self.issuer.jwks, headers={"Cache-Control": "max-age=300"})


class Clock:
    """A monotonic clock that the benchmark can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def _stampede_threads(verify: Callable[[], object]) -> tuple[list[float], int]:
    """Run `verify` in CALLERS threads released together; return latencies (ms) and failures."""
    barrier = threading.Barrier(CALLERS)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def caller() -> None:
        nonlocal failures
        barrier.wait()
        started = time.perf_counter()
        try:
            verify()
        except Exception:  # any refusal is a failure of the scenario, reported below
            with lock:
                failures += 1
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return latencies, failures


def _stampede_tasks(verify: Callable[[], Any]) -> tuple[list[float], int]:
    """Run `verify()` coroutines in CALLERS tasks started together; return latencies, failures."""

    async def caller() -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            await verify()
        except Exception:  # any refusal is a failure of the scenario, reported below
            return (time.perf_counter() - started) * 1000, False
        return (time.perf_counter() - started) * 1000, True

    async def main() -> list[tuple[float, bool]]:
        return await asyncio.gather(*(caller() for _ in range(CALLERS)))

    results = asyncio.run(main())
    return [latency for latency, _ in results], sum(1 for _, ok in results if not ok)


def scenario(name: str, mode: str, server: JWKSServer, url: str) -> dict[str, Any]:
    """Run one scenario with threads or tasks on a fresh endpoint; return its figures."""
    issuer = server.issuer
    clock = Clock()
    endpoint = JWKSEndpoint(url, cache_ttl=300, min_refresh_interval=30, clock=clock)
    verifier = TokenVerifier(endpoint, issuer=ISSUER, audience=AUDIENCE)
    token = issuer.issue(iss=ISSUER)
    server.available = True
    if name == "outage":
        verifier.verify(token)  # warm
        clock.offset += 400  # past the set's max-age and the refresh cooldown
        server.available = False
    elif name == "rotation":
        verifier.verify(token)  # warm, with the old key only
        issuer.rotate()
        token = issuer.issue(iss=ISSUER)  # signed by a key the cached set does not hold
        clock.offset += 40  # past min_refresh_interval, inside the set's freshness
    server.requests = 0
    if mode == "threads":
        latencies, failures = _stampede_threads(lambda: verifier.verify(token))
    else:
        latencies, failures = _stampede_tasks(lambda: verifier.verify_async(token))
    server.available = True
    requests = server.requests
    return {
        "scenario": name,
        "mode": mode,
        "callers": len(latencies),
        "requests": requests,
        "failures": failures,
        "p50_ms": median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "ok": requests == 1 and failures == 0 and len(latencies) == CALLERS,
    }


def run(delay: float) -> dict[str, Any]:
    results = []
    for algorithm in ("RS256",):
        issuer = LocalIssuer(algorithm, issuer=ISSUER, audience=AUDIENCE)
        server = JWKSServer(issuer, delay)
        with serve_in_thread(server) as base:
            url = f"{base}/jwks.json"
            for name in ("cold", "outage", "rotation"):
                for mode in ("threads", "tasks"):
                    results.append(scenario(name, mode, server, url))
    return {"machine": machine(), "callers": CALLERS, "delay_s": delay, "results": results}


def report(data: dict[str, Any]) -> str:
    lines = [
        f"{data['callers']} concurrent callers per row; the server answers after "
        f"{data['delay_s'] * 1000:.0f} ms; RS256",
        "",
        "| scenario | callers | HTTP requests | failed | p50 ms | p99 ms | |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for row in data["results"]:
        lines.append(
            f"| {row['scenario']} | {row['callers']} {row['mode']} | {row['requests']} "
            f"| {row['failures']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {'ok' if row['ok'] else 'FAILED'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the server waits")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    data = run(args.delay)
    data["seconds"] = round(time.monotonic() - started, 1)
    publish(data, report(data), args.json)
    return 0 if all(row["ok"] for row in data["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
