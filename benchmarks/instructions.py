"""Instructions per verification, counted by valgrind's callgrind: figures a noisy machine
cannot move.

    python benchmarks/instructions.py                # all algorithms, about ten minutes
    python benchmarks/instructions.py --alg RS256    # one algorithm
    python benchmarks/instructions.py --json out.json

Wall-clock timings on a shared two-core VM drift by tens of percent within a minute, which
is as large as the differences `verify.py` is after. Callgrind counts executed instructions
instead: the same binary, input and environment give the same count whatever else the
machine does. Each implementation of `verify.py` (the hand-written floor, accesstoken,
accesstoken with `cache_size`, PyJWT, joserfc, Authlib) runs in a child process under
callgrind twice, verifying the same token `--small` and then `--large` times; the
difference of the two totals, divided by the difference of the counts, is the cost of one
verification, with start-up and set-up cancelled out. Keys and tokens are made once, here,
and handed to every child, so set-up is identical in both runs (RSA key generation alone
would otherwise add noise of its own), and `PYTHONHASHSEED` is fixed for the same reason.

Instructions are not time (a cache miss costs more than an add), but the ratios they give
agree with the medians of `verify.py` on a quiet machine, and they repeat to the digit.
Needs `valgrind` (Debian package `valgrind`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import describe_machine, machine

HERE = Path(__file__).resolve().parent
IMPLEMENTATIONS = ("floor", "accesstoken", "accesstoken cache", "PyJWT", "joserfc", "Authlib")
ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


class FixedIssuer:
    """What verify.py's implementations read of a LocalIssuer, from keys made beforehand."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.kid: str = state["kid"]
        self.jwks: dict[str, Any] = state["jwks"]
        self.secret = bytes.fromhex(state["secret"]) if state["secret"] else b""
        self.public_key_pem: str = state["public_key_pem"] or ""

    def key_source(self) -> Any:
        from accesstoken import HMACSecret, StaticKeys

        return HMACSecret(self.secret) if self.secret else StaticKeys.from_jwks(self.jwks)


def child(state_file: str, alg: str, implementation: str, count: int) -> None:
    """Verify one algorithm's good token `count` times with one implementation."""
    sys.path.insert(0, str(HERE))
    import verify

    state = json.loads(Path(state_file).read_text())[alg]
    case = verify.Case(alg, FixedIssuer(state), None, {"good": state["token"]})
    run = verify.FACTORIES[implementation](case)
    assert callable(run)
    token = case.good
    run(token)  # the first call may import or warm something: keep it in the set-up
    for _ in range(count):
        run(token)


def make_state(algorithms: tuple[str, ...]) -> dict[str, Any]:
    """Return the keys and a good token per algorithm, made once for every child."""
    sys.path.insert(0, str(HERE))
    import verify
    from accesstoken.testing import LocalIssuer

    state = {}
    for alg in algorithms:
        issuer = LocalIssuer(alg, issuer=verify.ISSUER, audience=verify.AUDIENCE)
        # verify.py's tokens, but valid for a day: a full run outlasts their five minutes.
        token = issuer.issue(scopes=verify.SCOPES, expires_in=86_400)
        symmetric = alg.startswith("HS")
        state[alg] = {
            "kid": issuer.kid,
            "jwks": issuer.jwks,
            "secret": issuer.secret.hex() if symmetric else None,
            "public_key_pem": None if symmetric else issuer.public_key_pem,
            "token": token,
        }
    return state


def count_instructions(state_file: str, alg: str, implementation: str, count: int) -> int:
    """Return the instructions callgrind counts for a child verifying `count` times."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        state_file,
        alg,
        implementation,
        str(count),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"{alg} {implementation}: {result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=4, metavar=("STATE", "ALG", "IMPL", "COUNT"))
    parser.add_argument("--alg", action="append", choices=ALGORITHMS, help="repeatable")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=600)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    if args.child:
        state_file, alg, implementation, count = args.child
        child(state_file, alg, implementation, int(count))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is needed: apt-get install valgrind", file=sys.stderr)
        return 2

    algorithms = tuple(args.alg or ALGORITHMS)
    print(describe_machine())
    with tempfile.TemporaryDirectory() as folder:
        state_file = str(Path(folder) / "state.json")
        Path(state_file).write_text(json.dumps(make_state(algorithms)))
        jobs = [
            (alg, impl, count)
            for alg in algorithms
            for impl in IMPLEMENTATIONS
            for count in (args.small, args.large)
        ]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            totals = list(pool.map(lambda job: count_instructions(state_file, *job), jobs))
    per_call: dict[str, dict[str, float]] = {}
    for (alg, impl, count), total in zip(jobs, totals, strict=True):
        if count == args.small:
            small_total = total
        else:
            per_call.setdefault(alg, {})[impl] = (total - small_total) / (args.large - args.small)

    print("\ninstructions per verification (thousands), and the ratio to the floor\n")
    print("| implementation | " + " | ".join(algorithms) + " |")
    print("|---|" + "--:|" * len(algorithms))
    for impl in IMPLEMENTATIONS:
        cells = []
        for alg in algorithms:
            value, floor = per_call[alg][impl], per_call[alg]["floor"]
            cells.append(f"{value / 1000:.1f} ({value / floor:.2f}×)")
        print(f"| {impl} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "instructions": per_call}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
