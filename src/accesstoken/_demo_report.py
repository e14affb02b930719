"""What the demos print: a table of their steps, then what the library logged meanwhile.

`accesstoken demo` and `accesstoken demo-grpc` show their tours the same way: one row per
request with the status expected and the one got, who answered, and under every refusal the
challenge that came with it (an HTTP header, or gRPC trailing metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Step", "collected_logs", "report", "table"]


@dataclass
class Step:
    """One request of a tour, what it should get, and what it got."""

    title: str
    expected: int | str
    """An HTTP status, or the name of a gRPC status code."""
    got: int | str | None = None
    detail: str = ""
    extra_ok: bool = True
    hop: str = ""
    """Who answered: "IdP", "gateway" or "service"; "interceptor" or "handler"."""
    challenge: str | None = None
    """The `WWW-Authenticate` challenge of a refusal."""

    @property
    def ok(self) -> bool:
        return self.got == self.expected and self.extra_ok


def table(
    steps: Sequence[Step],
    *,
    challenged: Collection[str] = ("401", "403"),
    challenge_name: str = "WWW-Authenticate",
) -> str:
    """Return the steps as a plain-text table; a challenge goes on a line of its own.

    Args:
        steps: the tour's steps, in order.
        challenged: the statuses got whose challenge is shown (as "(none sent)" if missing).
        challenge_name: what the challenge line calls it.
    """
    rows = [("#", "step", "expected", "got", "answered by", "result", "detail")]
    for number, step in enumerate(steps, 1):
        result = "ok" if step.ok else "FAIL"
        got = str(step.got)
        rows.append(
            (str(number), step.title, str(step.expected), got, step.hop, result, step.detail)
        )
    fixed = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(fixed)]
    indent = " " * (widths[0] + 2)
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row[:fixed], widths, strict=True)]
        lines.append("  ".join([*cells, row[fixed]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in [*widths, 6]))
        elif row[3] in challenged:
            challenge = steps[index - 1].challenge or "(none sent)"
            lines.append(f"{indent}{challenge_name}: {challenge}")
    return "\n".join(lines)


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}: {record.getMessage()}")


@contextmanager
def collected_logs() -> Iterator[list[str]]:
    """Collect the library's log lines, to print them after the table instead of amid it."""
    lines: list[str] = []
    handler = _ListHandler(lines)
    logger = logging.getLogger("accesstoken")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def report(
    steps: Sequence[Step],
    logs: Sequence[str],
    out: TextIO,
    *,
    challenged: Collection[str] = ("401", "403"),
    challenge_name: str = "WWW-Authenticate",
) -> bool:
    """Print the table, the log lines and the count of steps that behaved; return if all did.

    `challenged` and `challenge_name` are those of `table()`.
    """
    print(table(steps, challenged=challenged, challenge_name=challenge_name), file=out)
    if logs:
        print("\nLogged by the verifiers meanwhile (logger 'accesstoken'):", file=out)
        print("\n".join(f"  {line}" for line in logs), file=out)
    print(f"\n{sum(s.ok for s in steps)}/{len(steps)} steps behaved as expected.", file=out)
    return all(step.ok for step in steps)
