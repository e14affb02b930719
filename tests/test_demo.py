"""`accesstoken demo`: every step behaves, the table says so, and nothing is left running."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys

import httpx
import pytest

from accesstoken import _demo
from accesstoken._cli import main

EXPECTED = {
    "client credentials grant at the IdP": "200",
    "valid token, forwarded to the service": "200",
    "opaque token, checked by introspection": "200",
    "token of step 2, revoked mid-tour": "401",
    "no token": "401",
    "expired token": "401",
    "tampered token (payload changed)": "401",
    "token for another audience": "401",
    "token without orders:read (service ACL)": "403",
    "key rotation: token signed with a new key": "200",
    "identity provider down (discovery probe)": "503",
    "IdP down: cached keys still verify": "200",
}


def rows(output: str) -> dict[str, tuple[str, str, str]]:
    """Return each table row's step title with its expected status, status got and result."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^\d+\s+(.+?)\s{2,}(\d{3})\s+(\S+)\s+(ok|FAIL)\b", line)
        if match:
            found[match[1]] = (match[2], match[3], match[4])
    return found


def test_demo_plays_every_step_and_frees_its_ports(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo"])
    output = capsys.readouterr().out
    assert code == 0, output
    table = rows(output)
    assert {title: got for title, (_, got, _) in table.items()} == EXPECTED
    assert all(result == "ok" for _, _, result in table.values())
    assert "12/12 steps behaved as expected" in output
    urls = re.findall(r"http://127\.0\.0\.1:\d+", output)
    assert len(set(urls)) == 3
    for url in set(urls):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)


def test_a_failing_step_makes_the_demo_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_demo, "_tour", lambda demo: [_demo.Step("no token", 401, 200)])
    out = io.StringIO()
    assert _demo.run_demo(out) == 1
    assert rows(out.getvalue()) == {"no token": ("401", "200", "FAIL")}


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
    assert "12/12 steps behaved as expected" in result.stdout
