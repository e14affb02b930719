"""A fleet of replicas against one JWKS endpoint: requests per second over time.

N replicas start at once, serve a steady hour, then live through two key rotations:

- pre-published: the provider publishes the new key, and signs with it one cache_ttl later
  (as the large providers do): every replica should pick it up on a scheduled refresh;
- sudden: the provider publishes a new key and signs with it at once: every replica meets
  an unknown kid and should refetch exactly once.

Each replica runs the real cache and refresh code (`accesstoken._remote.policy`, the
decisions `JWKSEndpoint` makes under its lock) on a virtual clock; no socket is opened.
Each replica verifies a token every second, so it refreshes in the first second after its
key set expires; after a rotation, clients renew their tokens over one token lifetime
(300 s), so a replica meets its first token of the new key at a random point of it.

Run with today's refresh jitter and without it (the behaviour before jitter), and print
the endpoint's requests per second: the start, the steady hour (its mean and its worst
second), each rotation's worst second, and the refetches per replica in the sudden one.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import publish
from accesstoken._remote.policy import CachedDocument, Decision, RefreshPolicy

CACHE_TTL = 300.0
TOKEN_LIFETIME = 300.0
STEADY = (600.0, 3_600.0)  # the steady hour's window: after the start has settled
PUBLISH_AT = 7_200.0  # pre-published rotation: new key published; signed from +cache_ttl
SUDDEN_AT = 10_800.0  # sudden rotation: published and signed at once
END = 12_600.0
WINDOW = 900.0  # how long after a rotation its peak is looked for


@dataclass
class Replica:
    cache: CachedDocument[frozenset[str]]
    forced: int = 0  # refetches caused by an unknown kid
    sudden: int = 0  # fetches from the sudden rotation until the replica holds its key


def published(now: float) -> frozenset[str]:
    """The kids the endpoint serves at `now`."""
    kids = {"k1"}
    if now >= PUBLISH_AT:
        kids.add("k2")
    if now >= SUDDEN_AT:
        kids.add("k3")
    return frozenset(kids)


def simulate(replicas: int, jitter: float, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    policy = RefreshPolicy(CACHE_TTL, 30.0, 86_400.0, jitter=jitter)
    fleet = [Replica(CachedDocument(policy, draw=rng.random)) for _ in range(replicas)]
    requests: Counter[int] = Counter()
    # (second, replica, kid of a token it must verify, or "" for its scheduled refresh)
    due: list[tuple[float, int, str]] = []

    def fetch(index: int, now: float, forced: bool) -> None:
        cache = fleet[index].cache
        decision = cache.decide(now, forced=forced)
        if decision is not Decision.FETCH:
            return
        requests[int(now)] += 1
        replica = fleet[index]
        replica.forced += forced
        held = cache.current(now)
        if now >= SUDDEN_AT and (held is None or "k3" not in held):
            replica.sudden += 1
        cache.succeeded(cache.begin(), published(now), None, now)
        heapq.heappush(due, (math.ceil(cache.fresh_until), index, ""))

    for index in range(replicas):
        fetch(index, 0.0, forced=False)  # every replica's first token arrives at once
        # Clients renew their tokens over one token lifetime after each switch of key.
        heapq.heappush(due, (PUBLISH_AT + CACHE_TTL + rng.uniform(0, TOKEN_LIFETIME), index, "k2"))
        heapq.heappush(due, (SUDDEN_AT + rng.uniform(0, TOKEN_LIFETIME), index, "k3"))
    while due and due[0][0] < END:
        now, index, kid = heapq.heappop(due)
        cache = fleet[index].cache
        if not kid:
            if cache.fresh_until <= now:  # not refreshed since (an unknown kid did it)
                fetch(index, now, forced=False)
            continue
        held = cache.current(now)
        if held is None or not cache.is_fresh(now):
            fetch(index, now, forced=False)
            held = cache.current(now)
        if held is not None and kid not in held:
            fetch(index, now, forced=True)
    return summarize(requests, fleet)


def summarize(requests: Counter[int], fleet: list[Replica]) -> dict[str, object]:
    def window(start: float, end: float) -> list[int]:
        return [requests.get(second, 0) for second in range(int(start), int(end))]

    steady = window(*STEADY)
    timeline = []
    for start in range(0, int(END), 600):  # ten-minute blocks: mean and worst second
        block = window(start, min(start + 600, END))
        timeline.append((start, sum(block) / len(block), max(block)))
    sudden = Counter(replica.sudden for replica in fleet)
    forced = sum(replica.forced for replica in fleet)
    return {
        "start": requests.get(0, 0),
        "steady_mean": sum(steady) / len(steady),
        "steady_peak": max(steady),
        "prepublished_peak": max(window(PUBLISH_AT, PUBLISH_AT + CACHE_TTL + WINDOW)),
        "sudden_peak": max(window(SUDDEN_AT, SUDDEN_AT + WINDOW)),
        "sudden_refetches_per_replica": dict(sorted(sudden.items())),
        "unknown_kid_refetches": forced,
        "timeline": timeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 replicas")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    replicas = 1_000 if args.quick else args.replicas
    started = time.perf_counter()
    runs = {
        "jitter 0.1 (today)": simulate(replicas, 0.1, args.seed),
        "no jitter (before)": simulate(replicas, 0.0, args.seed),
    }
    steady_goal = replicas / (CACHE_TTL * 0.95)  # refreshes every 285 s on average
    lines = [
        f"{replicas} replicas, cache_ttl={CACHE_TTL:.0f} s, requests per second on the endpoint",
        f"goal: steady mean <= ~{steady_goal:.0f}/s; pre-published rotation peak <= "
        f"{5 * steady_goal:.0f}/s; one refetch per replica in the sudden rotation",
        "",
        f"{'run':<20} {'start':>7} {'steady mean':>12} {'steady peak':>12} "
        f"{'pre-published peak':>19} {'sudden peak':>12}  fetches per replica until it held the"
        " sudden key (count: replicas); of them for an unknown kid",
    ]
    for name, run in runs.items():
        lines.append(
            f"{name:<20} {run['start']:>7} {run['steady_mean']:>12.1f} {run['steady_peak']:>12} "
            f"{run['prepublished_peak']:>19} {run['sudden_peak']:>12}  "
            f"{run['sudden_refetches_per_replica']}; {run['unknown_kid_refetches']}"
        )
    lines += ["", "requests per second over time, per ten minutes: mean / worst second"]
    lines.append(f"{'minute':>6}  " + "  ".join(f"{name:>20}" for name in runs))
    timelines = [run["timeline"] for run in runs.values()]
    for blocks in zip(*timelines, strict=True):  # type: ignore[call-overload]
        cells = "  ".join(f"{mean:>11.1f} / {peak:>6}" for _, mean, peak in blocks)
        lines.append(f"{blocks[0][0] // 60:>6}  {cells}")
    today = runs["jitter 0.1 (today)"]
    met = (
        today["steady_mean"] <= steady_goal * 1.05  # type: ignore[operator]
        and today["prepublished_peak"] <= 5 * steady_goal  # type: ignore[operator]
        and today["sudden_refetches_per_replica"] == {1: replicas}
    )
    lines.append("")
    lines.append(f"goal met: {'yes' if met else 'NO'}")
    data = {"replicas": replicas, "runs": runs, "seconds": round(time.perf_counter() - started, 1)}
    publish(data, "\n".join(lines), args.json)


if __name__ == "__main__":
    main()
