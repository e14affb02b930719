"""What every benchmark script shares: the machine description and small statistics helpers."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

LIBRARIES = ("accesstoken", "cryptography", "PyJWT", "joserfc", "Authlib", "uvicorn", "httpx")


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, object]:
    """Return what a reader needs to compare figures: CPU, cores, OS, Python, versions."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": versions,
    }


def describe_machine() -> str:
    """Return the machine description as one line for a report header."""
    info = machine()
    libraries = ", ".join(f"{name} {version}" for name, version in info["libraries"].items())  # type: ignore[attr-defined]
    return f"{info['cpu']}, {info['cores']} cores, {info['os']}, {info['python']}\n{libraries}"


def percentile(values: list[float], fraction: float) -> float:
    """Return the `fraction` quantile of `values` (nearest rank), 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    """Return the median of `values`, 0.0 for no values."""
    return statistics.median(values) if values else 0.0


def publish(data: dict[str, Any], report: str, json_path: str | None) -> None:
    """Print the machine, `report` and the run's duration; write `data` to `json_path` if given."""
    print(describe_machine())
    print()
    print(report)
    print(f"\n({data['seconds']} s)")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)


def measure(cases: dict[str, Callable[[], object]], rounds: int, calls: int) -> dict[str, float]:
    """Return the median seconds per call of each case over `rounds` interleaved rounds.

    Every case runs once per round, `calls` times in a row with the garbage collector off,
    so that a slow moment of the machine touches all cases alike.
    """
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            gc.disable()
            started = time.perf_counter()
            for _ in range(calls):
                case()
            elapsed = time.perf_counter() - started
            gc.enable()
            samples[name].append(elapsed / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def timings(
    cases: dict[str, Callable[[], object]], rounds: int, calls: int, started: float
) -> dict[str, Any]:
    """Return the figures of one run: the machine, the settings, µs per call of each case."""
    results = measure(cases, rounds, calls)
    return {
        "machine": machine(),
        "rounds": rounds,
        "calls": calls,
        "results": {name: seconds * 1e6 for name, seconds in results.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }


def ratio_report(data: dict[str, Any], base: str, label: str) -> str:
    """Return one line per case of `timings()`: µs per call and the ratio to case `base`."""
    results = data["results"]
    lines = [f"{'case':<26} {'µs/call':>9} {label:>13}"]
    for name, micros in results.items():
        lines.append(f"{name:<26} {micros:>9.1f} {micros / results[base]:>12.2f}x")
    return "\n".join(lines)


def asgi_scope(token: str) -> dict[str, Any]:
    """Return the ASGI scope of `GET /` with `token` as its bearer token."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"user-agent", b"benchmark"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
