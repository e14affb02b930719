"""What `MCPTokenVerifier.verify_token()` adds to `verify_async()`, per token.

(Not named mcp.py: a script's folder comes first on sys.path, and it would hide the SDK.)

    python benchmarks/mcp_verifier.py            # about 15 s (151 rounds)
    python benchmarks/mcp_verifier.py --quick    # a few seconds
    python benchmarks/mcp_verifier.py --json out.json
    python benchmarks/mcp_verifier.py --instructions   # counted by callgrind (needs valgrind)

A few µs cannot be read off the difference of two ~100 µs verifications on a shared
machine, so the wrapper is timed around a verifier that has already done its work: an
`AlreadyVerified` stand-in whose `verify_async()` returns one verified RS256 token at once.
"Added" is `verify_token()` around it minus the stand-in called alone: the extra coroutine,
the mapping to the SDK's `AccessToken` and its construction. The real `verify_async()` of
the same token is timed too, for the ratio. One event loop, rounds interleaved (A B C D,
then D C B A), the collector off inside a round; each figure is the median over rounds, and
"added" the median of the paired differences; the quietest round of each is shown too.
The target is 5 µs added per token.

On a shared machine those µs move with the neighbours' load; `--instructions` counts what
the wrapper executes instead, with valgrind's callgrind, as `instructions.py` does for the
verifiers: a child process awaits `--small` and then `--large` calls of the stand-in, and of
`verify_token()` around it, and the difference of the totals over the difference of the
counts is the cost of one call, start-up and set-up cancelled out.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Collection
from importlib import metadata
from typing import Any

from mcp.server.auth.provider import AccessToken as SDKAccessToken

from _common import median, publish
from accesstoken import AccessToken
from accesstoken.mcp import MCPAccessToken, MCPTokenVerifier
from accesstoken.testing import LocalIssuer

CALLS = 2000  # per round, for the µs-sized calls; a tenth of that for real verifications
TARGET_US = 5.0


class AlreadyVerified:
    """A `Verifier` whose work is done: it returns the same verified token at once."""

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        return self.token

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        return self.token


async def per_call(call: Callable[[], Awaitable[object]], count: int) -> float:
    """Return the µs per call of `count` awaited calls."""
    start = time.perf_counter_ns()
    for _ in range(count):
        await call()
    return (time.perf_counter_ns() - start) / count / 1000


async def measure(rounds: int) -> dict[str, Any]:
    issuer = LocalIssuer("RS256", audience="https://api.example.com/mcp")
    raw = issuer.issue("alice", scopes=["orders:read", "orders:write"], client_id="agent")
    verifier = issuer.verifier()
    token = await verifier.verify_async(raw)
    verified = AlreadyVerified(token)
    adapter = MCPTokenVerifier(verified)
    mapped = await adapter.verify_token(raw)
    assert mapped is not None
    fields = mapped.model_dump()

    async def sdk_model() -> SDKAccessToken:
        return SDKAccessToken(**fields)

    calls: dict[str, tuple[Callable[[], Awaitable[object]], int]] = {
        "verify_async": (lambda: verifier.verify_async(raw), CALLS // 10),
        "stand_in": (lambda: verified.verify_async(raw), CALLS),
        "verify_token": (lambda: adapter.verify_token(raw), CALLS),
        "sdk_model": (sdk_model, CALLS),
    }
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for call, count in calls.values():  # warm up every path
        await per_call(call, count)
    gc.disable()
    try:
        for index in range(rounds):
            order = list(calls) if index % 2 == 0 else list(reversed(calls))
            for name in order:
                timings[name].append(await per_call(*calls[name]))
            gc.collect()
    finally:
        gc.enable()
    added = [b - a for a, b in zip(timings["stand_in"], timings["verify_token"], strict=True)]
    return {
        "rounds": rounds,
        "verify_async_us": median(timings["verify_async"]),
        "added_us": median(added),
        # The quietest round of each: on a shared machine, the figure its neighbours moved least.
        "added_best_us": min(timings["verify_token"]) - min(timings["stand_in"]),
        "verify_async_best_us": min(timings["verify_async"]),
        "sdk_model_us": median(timings["sdk_model"]),
    }


def report(result: dict[str, Any]) -> str:
    base, added = result["verify_async_us"], result["added_us"]
    verdict = "within" if added <= TARGET_US else "over"
    return "\n".join(
        [
            f"mcp {metadata.version('mcp')}, one RS256 token, {result['rounds']} rounds",
            f"  verify_async()                         {base:8.2f} µs",
            f"  added by MCPTokenVerifier.verify_token() {added:6.2f} µs  "
            f"({verdict} the {TARGET_US:g} µs target)",
            f"  verify_token() / verify_async()          {(base + added) / base:6.3f}×",
            f"  the quietest rounds: added {result['added_best_us']:.2f} µs to "
            f"{result['verify_async_best_us']:.2f} µs",
            f"  the SDK's AccessToken built alone     {result['sdk_model_us']:6.2f} µs  "
            "(built from the same fields, claims validated)",
        ]
    )


async def child(what: str, count: int) -> None:
    """Await `count` calls of the stand-in, or of `verify_token()` around it."""
    issuer = LocalIssuer("HS256", audience="https://api.example.com/mcp")  # no RSA keygen noise
    raw = issuer.issue("alice", scopes=["orders:read", "orders:write"], client_id="agent")
    verified = AlreadyVerified(await issuer.verifier().verify_async(raw))
    adapter = MCPTokenVerifier(verified)
    mapped = await adapter.verify_token(raw)
    assert mapped is not None
    fields = mapped.model_dump()

    async def model(raw: str) -> MCPAccessToken:  # the same awaited call, building the model
        return MCPAccessToken(**fields)

    calls = {"stand_in": verified.verify_async, "verify_token": adapter.verify_token}
    call = calls.get(what, model)
    await call(raw)  # the first call may import or warm something: keep it in the set-up
    for _ in range(count):
        await call(raw)


def instructions(what: str, count: int) -> int:
    """Return the instructions callgrind counts for a child making `count` calls."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", what, str(count)],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(result.stderr[-2000:])
    return int(found[1])


def count_added(small: int, large: int) -> dict[str, Any]:
    per_call = {
        what: (instructions(what, large) - instructions(what, small)) / (large - small)
        for what in ("stand_in", "verify_token", "model")
    }
    return {
        **per_call,
        "added": per_call["verify_token"] - per_call["stand_in"],
        "model_added": per_call["model"] - per_call["stand_in"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=1200)
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "COUNT"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        asyncio.run(child(options.child[0], int(options.child[1])))
        return
    started = time.monotonic()
    if options.instructions:
        result = count_added(options.small, options.large)
        text = (
            f"instructions per call: the stand-in {result['stand_in']:,.0f}, "
            f"verify_token() around it {result['verify_token']:,.0f}, "
            f"added {result['added']:,.0f}, of which building the MCPAccessToken "
            f"{result['model_added']:,.0f}"
        )
    else:
        result = asyncio.run(measure(rounds=21 if options.quick else 151))
        text = report(result)
    result["seconds"] = round(time.monotonic() - started, 1)
    publish(result, text, options.json)


if __name__ == "__main__":
    main()
