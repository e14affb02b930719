"""Every code block of README.md and docs/ runs as written, unless it is marked a fragment.

The rules, also in CONTRIBUTING.md:

- `python` blocks run in a fresh interpreter, in an empty folder, with a time limit; one
  that defines `test_` functions is run by pytest instead, with the installed plugin.
- `json` blocks parse. `console` and `bash` blocks may hold `accesstoken ...` command lines,
  which the command's own parser must accept, and `pip install` lines, whose extras must
  exist; anything else in them makes the block a fragment.
- `text` blocks are output or diagrams: there is nothing to run.
- `<!-- fragment -->` on the line before a fence marks an excerpt that cannot run alone
  (option lists, `await` outside a function, a settings file); it is still highlighted.
- The quickstarts' blocks also pass `mypy --strict`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from accesstoken._cli import _parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FRAGMENT = "<!-- fragment -->"
LANGUAGES = ("python", "json", "text", "console", "bash")
# The pages whose code a reader copies first: they must also type-check.
QUICKSTARTS = ("docs/index.md", "docs/quickstart/")
# Pages that only include a file of the repository's top level.
INCLUDES = ("docs/changelog.md", "docs/contributing.md")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(page: str) -> list[Block]:
    """Return the fenced code blocks of a page, with the line of their opening fence."""
    lines = (ROOT / page).read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = re.match(r"^(`{3,})(.*)$", lines[index])
        if fence is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i] == fence[1])
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        code = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(page, index + 1, fence[2].strip(), code, before == FRAGMENT))
        index = end + 1
    return found


PAGES = sorted(
    str(path.relative_to(ROOT))
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *DOCS.rglob("*.md")]
    if str(path.relative_to(ROOT)) not in INCLUDES
)
BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def runnable(*languages: str) -> list[Block]:
    return [block for block in BLOCKS if block.language in languages and not block.fragment]


def name(block: Block) -> str:
    return block.name


def test_every_block_names_a_known_language() -> None:
    unknown = [block.name for block in BLOCKS if block.language not in LANGUAGES]
    assert not unknown, f"give these fences one of {LANGUAGES}: {unknown}"
    assert len(BLOCKS) > 20  # the pages were read


def test_fragments_are_few_and_marked_right() -> None:
    """A marker that no fence follows would mark nothing; fragments stay the exception."""
    for page in PAGES:
        lines = (ROOT / page).read_text().splitlines()
        for number, line in enumerate(lines):
            if line == FRAGMENT:
                after = next(rest for rest in lines[number + 1 :] if rest.strip())
                assert after.startswith("```"), f"{page}:{number + 1}: {FRAGMENT} before no fence"
    python = [block for block in BLOCKS if block.language == "python"]
    assert sum(block.fragment for block in python) * 3 < len(python)


def run(command: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and our own pages
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_block(block: Block, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run a python block as a reader would: a script, or a test module for pytest."""
    script = folder / "test_example.py"
    script.write_text(block.code)
    if re.search(r"^def test_", block.code, flags=re.M):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", script.name]
    else:
        command = [sys.executable, script.name]
    return run(command, folder)


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every python block at once, each in its own process and folder, by block name."""
    blocks = runnable("python")
    folders = [tmp_path_factory.mktemp("example") for _ in blocks]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(run_block, blocks, folders))
    return {block.name: result for block, result in zip(blocks, results, strict=True)}


@pytest.mark.parametrize("block", runnable("python"), ids=name)
def test_python_block_runs(
    block: Block, outcomes: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = outcomes[block.name]
    assert result.returncode == 0, f"{block.name}\n{result.stdout}\n{result.stderr}"


def test_the_opening_example_prints_what_it_says(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    opening = blocks_of("docs/index.md")[0]
    assert outcomes[opening.name].stdout.startswith("alice ['orders:read'] ")


@pytest.mark.parametrize("block", runnable("json"), ids=name)
def test_json_block_parses(block: Block) -> None:
    json.loads(block.code)


def extras() -> set[str]:
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    return set(re.findall(r"^([a-z]+) = \[", section, flags=re.M))


@pytest.mark.parametrize("block", runnable("console", "bash"), ids=name)
def test_shell_block_names_real_commands(block: Block) -> None:
    for line in block.code.splitlines():
        line = line.removeprefix("$ ").split("#")[0].strip()
        for command in filter(None, (part.strip() for part in line.split("&&"))):
            # What the shell takes for itself: redirections and what a pipe feeds.
            words = shlex.split(re.split(r"\s[<>|]", command)[0])
            if words[:2] == ["pip", "install"]:
                for package in words[2:]:
                    name, _, extra = package.partition("[")
                    assert name == "accesstoken", command
                    assert extra.rstrip("]") in {"", *extras()}, command
            else:
                assert words[0] == "accesstoken", f"{block.name}: mark it a fragment: {command}"
                _parser().parse_args(words[1:])  # exits 2 on a usage error


def test_the_quickstarts_pass_mypy_strict(tmp_path: Path) -> None:
    quickstarts = {}
    for block in runnable("python"):
        if block.page.startswith(QUICKSTARTS):
            path = tmp_path / f"quickstart_{len(quickstarts)}.py"
            path.write_text(block.code)
            quickstarts[path.name] = block
    assert len(quickstarts) >= 4
    # From the repository, so that the cache of `mypy --strict src` serves the libraries.
    files = [str(tmp_path / name) for name in sorted(quickstarts)]
    result = run([sys.executable, "-m", "mypy", "--strict", *files], ROOT, timeout=300)

    def on_the_page(match: re.Match[str]) -> str:
        block = quickstarts[match[1]]
        return f"{block.page}:{block.line + int(match[2])}"

    report = re.sub(r"(quickstart_\d+\.py):(\d+)", on_the_page, result.stdout)
    assert result.returncode == 0, report
