"""`accesstoken demo`: every step behaves, the table says so, and nothing is left running."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from accesstoken import _demo
from accesstoken._cli import main
from accesstoken._demo_report import Step

DOCS = Path(__file__).resolve().parent.parent / "docs"

# The steps' titles, by the status they get and who answers them.
ANSWERS = {
    ("200", "IdP"): ["client credentials grant at the IdP"],
    ("200", "service"): [
        "valid token, forwarded to the service",
        "opaque token, checked by introspection",
        "key rotation: token signed with a new key",
        "IdP down: cached keys still verify",
    ],
    ("401", "gateway"): [
        "token of step 2, revoked mid-tour",
        "no token",
        "expired token",
        "tampered token (payload changed)",
        "token for another audience",
        "stolen DPoP-bound token, without its key",
    ],
    ("403", "service"): ["token without orders:read (service ACL)"],
    ("503", "IdP"): ["IdP down: probed directly, not via gateway"],
}
EXPECTED = {title: answer for answer, titles in ANSWERS.items() for title in titles}


# A row of a demo's table; a status is an HTTP one or the name of a gRPC status code.
ROW = re.compile(r"^\d+\s+(.+?)\s{2,}(\d{3}|[A-Z_]+)\s+(\S+)\s+(\S+)\s+(ok|FAIL)\b")


def rows(output: str) -> dict[str, tuple[str, str, str, str]]:
    """Return each table row's step title with its expected status, status got, hop, result."""
    found = {}
    for line in output.splitlines():
        match = ROW.match(line)
        if match:
            found[match[1]] = (match[2], match[3], match[4], match[5])
    return found


def challenges(output: str) -> dict[str, str]:
    """Return the challenge line (HTTP header or gRPC metadata) under each step, by title."""
    found, title = {}, ""
    for line in output.splitlines():
        if match := ROW.match(line):
            title = match[1]
        elif match := re.match(r"^\s+(?:WWW-Authenticate|www-authenticate): (.*)$", line):
            found[title] = match[1]
    return found


def check_played(demo: tuple[int, str], expected: dict[str, tuple[str, str]]) -> str:
    """Check that a demo exited 0, each step with the status and hop expected; return the output."""
    code, output = demo
    assert code == 0, output
    found = rows(output)
    assert {title: (got, hop) for title, (_, got, hop, _) in found.items()} == expected
    assert all(result == "ok" for *_, result in found.values())
    assert f"{len(expected)}/{len(expected)} steps behaved as expected" in output
    return output


def table(output: str) -> str:
    """Return the table of a demo's output: from its heading to the first empty line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"#\s+step\s", line))
    end = lines.index("", start)
    return "\n".join(lines[start:end])


def check_documented(heading: str, output: str) -> None:
    """Check that docs/cli.md shows under `heading` (its first `text` block) the table printed."""
    page = (DOCS / "cli.md").read_text()
    shown = re.search(r"```text\n(.*?)\n```", page[page.index(heading) :], flags=re.S)
    printed = table(output)
    assert shown is not None, f"docs/cli.md: no table under {heading}"
    assert shown[1] == printed, f"docs/cli.md: under {heading}, replace the table with\n{printed}"


@pytest.fixture(scope="module")
def demo_output() -> tuple[int, str]:
    """Run `accesstoken demo` once for the module; return its exit code and output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo"])
    return code, out.getvalue()


def test_demo_plays_every_step_and_frees_its_ports(demo_output: tuple[int, str]) -> None:
    output = check_played(demo_output, EXPECTED)
    urls = re.findall(r"http://127\.0\.0\.1:\d+", output)
    assert len(set(urls)) == 3
    for url in set(urls):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)


def test_every_refusal_shows_its_challenge(demo_output: tuple[int, str]) -> None:
    _, output = demo_output
    shown = challenges(output)
    refused = {title for title, (status, _) in EXPECTED.items() if status in ("401", "403")}
    assert set(shown) == refused
    assert shown["no token"] == "Bearer"
    assert shown["expired token"].startswith('Bearer error="invalid_token"')
    assert shown["token without orders:read (service ACL)"].endswith('scope="orders:read"')


def test_the_command_line_page_shows_the_table_the_demo_prints(
    demo_output: tuple[int, str],
) -> None:
    check_documented("## `accesstoken demo`", demo_output[1])


def test_a_failing_step_makes_the_demo_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_demo, "_tour", lambda demo: [Step("no token", 401, 200, hop="gateway")])
    out = io.StringIO()
    assert _demo.run_demo(out) == 1
    assert rows(out.getvalue()) == {"no token": ("401", "200", "gateway", "FAIL")}


def test_keep_running_prints_a_working_curl_line_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "accesstoken", "demo", "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.strip().startswith("curl -i"):
                break
        curl = lines[-1]
        token = re.search(r"Bearer (\S+)\"", curl)
        url = re.search(r"(http://127\.0\.0\.1:\d+/orders)", curl)
        assert token is not None, "".join(lines)
        assert url is not None
        response = httpx.get(url[1], headers={"Authorization": f"Bearer {token[1]}"}, timeout=5)
        assert response.status_code == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "All servers stopped." in rest
        with pytest.raises(httpx.ConnectError):
            httpx.get(url[1], timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_demo_needs_no_framework() -> None:
    """README's first command runs on a machine with only the core's dependencies."""
    blocked = ("fastapi", "flask", "starlette", "uvicorn", "werkzeug", "pytest")
    code = (
        "import sys\n"
        f"sys.modules.update(dict.fromkeys({blocked!r}))\n"
        "from accesstoken._cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "13/13 steps behaved as expected" in result.stdout


def test_a_reader_that_leaves_stops_the_demo_quietly() -> None:
    """Like `yes | head -1`: the demo stops its servers and exits 141, with no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "accesstoken", "demo"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the first line already fails
        )
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, "")
