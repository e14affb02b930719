"""Memory while verifying a million distinct tokens: resident set size must stay flat.

    python benchmarks/memory.py                  # 1,000,000 tokens per pass, a few minutes
    python benchmarks/memory.py --count 100000   # a quicker look
    python benchmarks/memory.py --json out.json

Two passes, each in a fresh child process so that neither inherits the other's heap:

- plain: a default `TokenVerifier` (no cache) verifies `--count` distinct tokens;
- cache: the same with `cache_size` (default 10,000), so the cache fills up early and
  then evicts one entry per new token.

Tokens are HS256, minted by hand (a fixed header, a JSON payload with a distinct `jti`
and `sub`, one HMAC) one at a time and dropped after use, so the benchmark itself holds
nothing. RSS (VmRSS) and peak RSS (VmHWM) are read from /proc/self/status at 1 %, 10 %
and 100 % of the count, so with the default count at 10 k, 100 k and 1 M. A verifier's own
bounded structures (the header memo, the key choice memo, the cache) fill during the
first thousands of tokens; after that RSS must not grow.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from typing import Any

from _common import machine, publish
from accesstoken import HMACSecret, TokenVerifier

SECRET = b"benchmark-secret-of-at-least-32-bytes!!"
ISSUER = "https://issuer.test/"
AUDIENCE = "api"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


HEADER = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())


def mint(number: int, now: int) -> str:
    """Return a distinct, valid HS256 token."""
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"user-{number}",
        "jti": f"token-{number:09d}",
        "iat": now,
        "exp": now + 3600,
        "scope": "orders:read orders:write",
    }
    signing_input = HEADER + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.digest(SECRET, signing_input, hashlib.sha256))
    return (signing_input + b"." + signature).decode()


def _status_kib(name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def one_pass(kind: str, count: int, cache_size: int) -> dict[str, Any]:
    """Verify `count` distinct tokens; return RSS at each checkpoint (run in a child)."""
    verifier = TokenVerifier(
        HMACSecret(SECRET, kid="k1"),
        issuer=ISSUER,
        audience=AUDIENCE,
        cache_size=cache_size if kind == "cache" else 0,
    )
    checkpoints = sorted({max(1, count // 100), max(1, count // 10), count})
    now = int(time.time())
    rows = [{"tokens": 0, "rss_mib": _status_kib("VmRSS") / 1024, "peak_mib": 0.0}]
    started = time.perf_counter()
    verified = 0
    for number in range(1, count + 1):
        verifier.verify(mint(number, now))
        verified += 1
        if number == checkpoints[0]:
            checkpoints.pop(0)
            rows.append(
                {
                    "tokens": number,
                    "rss_mib": _status_kib("VmRSS") / 1024,
                    "peak_mib": _status_kib("VmHWM") / 1024,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
    return {"kind": kind, "count": count, "verified": verified, "rows": rows}


def run(count: int, cache_size: int) -> dict[str, Any]:
    passes = []
    for kind in ("plain", "cache"):
        command = [sys.executable, __file__, "--child", kind, "--count", str(count)]
        command += ["--cache-size", str(cache_size)]
        child = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
        passes.append(json.loads(child.stdout))
    return {"machine": machine(), "count": count, "cache_size": cache_size, "passes": passes}


def report(data: dict[str, Any]) -> str:
    lines = [
        f"{data['count']:,} distinct HS256 tokens per pass; cache pass with "
        f"cache_size={data['cache_size']:,}",
        "",
        "| pass | tokens verified | RSS MiB | peak RSS MiB | seconds |",
        "|---|--:|--:|--:|--:|",
    ]
    for one in data["passes"]:
        for row in one["rows"][1:]:
            lines.append(
                f"| {one['kind']} | {row['tokens']:,} | {row['rss_mib']:.1f} "
                f"| {row['peak_mib']:.1f} | {row['seconds']} |"
            )
    lines.append("")
    for one in data["passes"]:
        rows = one["rows"]
        growth = rows[-1]["peak_mib"] - rows[1]["peak_mib"]
        lines.append(
            f"{one['kind']}: peak RSS grew {growth:+.1f} MiB from {rows[1]['tokens']:,} to "
            f"{rows[-1]['tokens']:,} tokens (before any token: {rows[0]['rss_mib']:.1f} MiB)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="tokens per pass")
    parser.add_argument("--cache-size", type=int, default=10_000, help="cache_size of pass 2")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--child", choices=("plain", "cache"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(one_pass(args.child, args.count, args.cache_size)))
        return 0
    started = time.monotonic()
    data = run(args.count, args.cache_size)
    data["seconds"] = round(time.monotonic() - started, 1)
    publish(data, report(data), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
