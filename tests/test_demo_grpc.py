"""`accesstoken demo-grpc`: each call gets its status, the table says so, nothing keeps running."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import subprocess
import sys

import pytest

from accesstoken import _demo_grpc
from accesstoken._cli import main
from accesstoken._demo_report import Step

from .test_demo import challenges, check_documented, check_played, rows

# Each step's title, with the status it gets and who answers it.
EXPECTED = {
    "health check, no token (excluded prefix)": ("OK", "handler"),
    "IdP down, no keys fetched yet: List": ("UNAVAILABLE", "interceptor"),
    "IdP back up, same token: List": ("OK", "handler"),
    "same token: Cancel (needs orders:write)": ("PERMISSION_DENIED", "interceptor"),
    "token with orders:write: Cancel": ("OK", "handler"),
    "no token: List": ("UNAUTHENTICATED", "interceptor"),
    "expired token: List": ("UNAUTHENTICATED", "interceptor"),
}


def run_demo() -> tuple[int, str]:
    """Run `accesstoken demo-grpc` as the command line does; return its exit code and output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["demo-grpc"])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def demo_output() -> tuple[int, str]:
    return run_demo()


def test_every_call_gets_its_status_and_the_server_stops(demo_output: tuple[int, str]) -> None:
    output = check_played(demo_output, EXPECTED)
    assert "handler saw sub=reporting-job" in output
    assert output.rstrip().endswith("All servers stopped.")
    address = re.search(r"gRPC server\s+127\.0\.0\.1:(\d+)", output)
    assert address is not None
    with pytest.raises(ConnectionRefusedError), socket.socket() as probe:
        probe.connect(("127.0.0.1", int(address[1])))


def test_refusals_carry_their_challenge_as_trailing_metadata(
    demo_output: tuple[int, str],
) -> None:
    shown = challenges(demo_output[1])
    challenged = ("UNAUTHENTICATED", "PERMISSION_DENIED")  # not UNAVAILABLE: a 503 has none
    assert set(shown) == {title for title, (status, _) in EXPECTED.items() if status in challenged}
    assert shown["no token: List"] == "Bearer"
    assert shown["expired token: List"].startswith('Bearer error="invalid_token"')
    denied = shown["same token: Cancel (needs orders:write)"]
    assert denied.startswith('Bearer error="insufficient_scope"')
    assert denied.endswith('scope="orders:write"')


def test_the_outage_is_logged_after_the_table(demo_output: tuple[int, str]) -> None:
    logged = demo_output[1].split("Logged by the verifiers meanwhile")[1]
    assert "WARNING: fetching http://127.0.0.1:" in logged
    assert "failed: status 503" in logged


def test_the_command_line_page_shows_the_table_the_demo_prints(
    demo_output: tuple[int, str],
) -> None:
    check_documented("## `accesstoken demo-grpc`", demo_output[1])


def test_the_command_ends_by_itself_in_a_few_seconds() -> None:
    """No thread of the server or of the channel keeps the interpreter alive at exit."""
    command = [sys.executable, "-m", "accesstoken", "demo-grpc"]
    result = subprocess.run(  # noqa: S603 - our own interpreter
        command, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7/7 steps behaved as expected." in result.stdout


def test_a_failing_step_makes_the_demo_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = [Step("no token: List", "UNAUTHENTICATED", "OK", hop="handler")]
    monkeypatch.setattr(_demo_grpc, "_tour", lambda *_: failing)
    code, output = run_demo()
    assert code == 1
    assert rows(output) == {"no token: List": ("UNAUTHENTICATED", "OK", "handler", "FAIL")}


def test_without_grpcio_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("grpc", "grpc.aio"):
        monkeypatch.setitem(sys.modules, name, None)  # `import grpc` fails
    for name in ("accesstoken.grpc", "accesstoken._grpc_calls", "accesstoken._demo_grpc"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # imported afresh
    assert main(["demo-grpc"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "accesstoken: error: accesstoken.grpc needs grpcio: pip install 'accesstoken[grpc]'"
    ]
