"""The documentation's runnable examples run: a page that opens with code must stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


@pytest.mark.parametrize(
    ("page", "index"),
    [
        ("index.md", 0),  # the opening example: LocalIssuer + TokenVerifier
        ("concepts/testing.md", 1),  # rotation through a real discovery server
    ],
)
def test_example_runs(page: str, index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = python_blocks(page)[index]
    exec(compile(code, f"{page}[{index}]", "exec"), {"__name__": "docs_example"})  # noqa: S102
    if page == "index.md":
        assert "alice ['orders:read']" in capsys.readouterr().out
