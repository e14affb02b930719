"""What revocation and introspection add to one verification.

    python benchmarks/revocation.py            # a few seconds per case
    python benchmarks/revocation.py --quick    # about ten seconds in all
    python benchmarks/revocation.py --redis-url redis://127.0.0.1:6379/0
    python benchmarks/revocation.py --json out.json

For one ES256 token (and one opaque token), timed in one process, interleaved (every case
once per round, many short rounds, the garbage collector off inside a round, medians over
rounds):

- plain: `TokenVerifier.verify()` with static keys, no revocation check;
- memory: the same with a `MemoryDenylist` holding 100,000 other entries;
- redis: the same with a `RedisDenylist` on a local `redis-server` (one `MGET` per call,
  over loopback); without `--redis-url` a throwaway server is started on a free port;
- introspection (cached): `IntrospectionVerifier.verify()` of an opaque token whose answer
  is cached (the testing kit's endpoint answered once, before timing).

Every case must accept its token and refuse a revoked one before anything is timed.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import redis

from _common import publish, ratio_report, timings
from accesstoken import TokenRevoked
from accesstoken.revocation import MemoryDenylist, RedisDenylist
from accesstoken.testing import LocalIssuer

Case = Callable[[], object]


@contextmanager
def local_redis() -> Iterator[str]:
    """Run a throwaway `redis-server` on a free loopback port; yield its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit("redis-server is not installed; pass --redis-url or install it")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [executable, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    sys.exit("redis-server did not start")
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def must_refuse(verify: Callable[[str], object], raw: str) -> None:
    try:
        verify(raw)
    except TokenRevoked:
        return
    sys.exit("a revoked token was accepted: nothing would be measured")


def build_cases(stack: ExitStack, redis_url: str) -> dict[str, Case]:
    """Return the timed calls, each checked to accept its token and refuse a revoked one."""
    issuer = LocalIssuer("ES256", audience="orders-api")
    issuer.add_client("bench", "bench-secret")
    stack.enter_context(issuer.serve())  # from here on, `iss` is the served URL
    raw, revoked = issuer.issue(scopes=["orders:read"]), issuer.issue(scopes=["orders:read"])

    plain = issuer.verifier()
    memory = MemoryDenylist()
    for i in range(100_000):
        memory.revoke_jti(f"other-{i}")
    with_memory = issuer.verifier(revocation=memory)
    memory.revoke(with_memory.verify(revoked))
    must_refuse(with_memory.verify, revoked)

    client = redis.Redis.from_url(redis_url)
    stack.callback(client.close)
    deny = RedisDenylist(client, prefix="accesstoken:benchmark:")
    with_redis = issuer.verifier(revocation=deny)
    deny.revoke(with_redis.verify(revoked))
    must_refuse(with_redis.verify, revoked)

    introspection = issuer.introspection_verifier("bench", "bench-secret")
    opaque = issuer.issue_opaque(scopes=["orders:read"])
    cases: dict[str, Case] = {
        "plain verify": lambda: plain.verify(raw),
        "verify + MemoryDenylist": lambda: with_memory.verify(raw),
        "verify + RedisDenylist": lambda: with_redis.verify(raw),
        "introspection (cached)": lambda: introspection.verify(opaque),
    }
    for case in cases.values():
        case()  # accepted; the introspection answer is now cached
    if issuer.requests["/introspect"] != 1:
        sys.exit("the introspection answer was not cached")
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--redis-url", help="a Redis to use instead of a throwaway server")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    options = parser.parse_args()
    rounds, calls = (15, 200) if options.quick else (40, 500)
    started = time.perf_counter()
    with ExitStack() as stack:
        url = options.redis_url or stack.enter_context(local_redis())
        data = timings(build_cases(stack, url), rounds, calls, started)
    publish(data, ratio_report(data, "plain verify", "vs plain"), options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
