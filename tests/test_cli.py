"""The `accesstoken` command line: inspect, verify, exit codes 0/1/2/3, stdin."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from accesstoken._cli import main
from accesstoken.testing import LocalIssuer

AUDIENCE = "orders-api"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(audience=AUDIENCE)


@pytest.fixture(scope="module")
def served(issuer: LocalIssuer) -> Iterator[str]:
    with issuer.serve() as url:
        yield url


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    code = main(list(argv), stdin=io.StringIO(stdin))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_process(
    argv: list[str],
    stdin: str = "",
    stdout: int = subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter, or bash running it
        argv,
        input=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def cli(
    *argv: str, stdin: str = "", stdout: int = subprocess.PIPE, unbuffered: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the command as a script would; stdout is block-buffered unless `unbuffered`."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    interpreter = [sys.executable, *["-u"] * unbuffered]
    return run_process([*interpreter, "-m", "accesstoken", *argv], stdin, stdout, environ)


# --- inspect ----------------------------------------------------------------------------


def test_inspect_marks_everything_unverified(
    capsys: pytest.CaptureFixture[str], issuer: LocalIssuer
) -> None:
    code, out, _ = run(capsys, "inspect", issuer.issue("alice", scopes=["orders:read"]))
    assert code == 0
    assert out.startswith("UNVERIFIED")
    assert "Header (UNVERIFIED)" in out
    assert "Claims (UNVERIFIED)" in out
    assert '"sub": "alice"' in out
    assert '"scope": "orders:read"' in out
    assert "UTC (in 4m" in out  # a human date with the time left


def test_inspect_reads_stdin_and_shows_expiry(
    capsys: pytest.CaptureFixture[str], issuer: LocalIssuer
) -> None:
    token = issuer.issue(expires_in=-7200)
    code, out, _ = run(capsys, "inspect", "-", stdin=f"{token}\n")
    assert code == 0
    assert "EXPIRED 2h" in out


def test_inspect_of_garbage_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "inspect", "not-a-token")
    assert code == 1
    assert out == ""
    assert "not a JWT" in err


def test_inspect_of_empty_stdin_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "inspect", "-", stdin="\n")
    assert code == 2
    assert "no token" in err


# --- verify -----------------------------------------------------------------------------


def test_verify_with_discovery(
    capsys: pytest.CaptureFixture[str], issuer: LocalIssuer, served: str
) -> None:
    token = issuer.issue("alice", scopes=["orders:read"])
    code, out, err = run(capsys, "verify", token, "--discovery", served, "--audience", AUDIENCE)
    assert code == 0, out + err
    assert out.startswith("VALID")
    assert "subject:   alice" in out
    assert "scopes:    orders:read" in out
    assert "UNVERIFIED" not in out
    assert "issuer is NOT checked" not in err


def test_verify_with_jwks_url_from_stdin(
    capsys: pytest.CaptureFixture[str], issuer: LocalIssuer, served: str
) -> None:
    token = issuer.issue("alice")
    argv = ["verify", "-", "--jwks-url", f"{served}/jwks.json", "--issuer", served]
    code, out, _ = run(capsys, *argv, "--audience", AUDIENCE, stdin=token + "\n")
    assert code == 0
    assert "VALID" in out


def test_verify_with_pem(
    capsys: pytest.CaptureFixture[str], issuer: LocalIssuer, tmp_path: Path
) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(issuer.public_key_pem)
    code, out, err = run(capsys, "verify", issuer.issue(), "--pem", str(pem))
    assert code == 0
    assert "VALID" in out
    assert "issuer is NOT checked" in err
    assert "audience is NOT checked" in err


def test_verify_with_secret(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "a shared secret of at least 32 bytes"
    now = int(time.time())
    claims = {"sub": "job", "exp": now + 60, "iat": now}
    token = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))
    code, out, _ = run(capsys, "verify", token, "--secret", secret)
    assert code == 0
    assert "subject:   job" in out
    code, out, _ = run(capsys, "verify", token, "--secret", secret.upper())
    assert code == 1
    assert "invalid_token" in out


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"expires_in": -3600}, "invalid_token: The access token has expired."),
        ({"aud": "billing-api"}, "invalid_token"),
    ],
)
def test_invalid_token_is_exit_1(
    capsys: pytest.CaptureFixture[str],
    issuer: LocalIssuer,
    served: str,
    options: dict[str, object],
    expected: str,
) -> None:
    token = issuer.issue(**options)  # type: ignore[arg-type]
    code, out, _ = run(capsys, "verify", token, "--discovery", served, "--audience", AUDIENCE)
    assert code == 1
    assert out.startswith("INVALID")
    assert expected in out


def test_missing_scope_is_exit_1(
    capsys: pytest.CaptureFixture[str], issuer: LocalIssuer, served: str
) -> None:
    token = issuer.issue(scopes=["orders:read"])
    argv = ["verify", token, "--discovery", served, "--audience", AUDIENCE]
    code, out, _ = run(capsys, *argv, "--scope", "orders:write")
    assert code == 1
    assert "insufficient_scope" in out


def test_key_source_down_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    down = LocalIssuer(audience=AUDIENCE)
    with down.serve() as url, down.outage():
        argv = ["verify", down.issue(), "--discovery", url, "--audience", AUDIENCE]
        code, out, _ = run(capsys, *argv, "--timeout", "2")
    assert code == 3
    assert out.startswith("UNAVAILABLE")
    assert "temporarily_unavailable" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["verify", "abc"],  # no key source
        ["verify", "abc", "--secret", "s", "--pem", "f"],  # two key sources
        ["verify", "abc", "--secret", "too-short"],
        ["verify", "abc", "--pem", "/nonexistent/key.pem"],
        ["verify", "abc", "--jwks-url", "http://idp.example.com/jwks.json"],  # not https
        ["frobnicate"],
    ],
)
def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "error" in err


def test_console_script_runs_as_a_module(issuer: LocalIssuer) -> None:
    result = cli("inspect", "-", stdin=issuer.issue())
    assert result.returncode == 0
    assert "UNVERIFIED" in result.stdout


# --- as scripts meet it: a subprocess, --json, --version, closed pipes, warnings ----------


def test_version_is_the_installed_distribution_s() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"accesstoken {importlib.metadata.version('accesstoken')}\n"


INSPECT_KEYS = {
    "verified", "error", "error_description", "header", "claims",
    "expires_at", "not_before", "issued_at", "expires_in",
}  # fmt: skip
VERIFY_KEYS = {"valid", "error", "error_description", "exception", "token"}
TOKEN_KEYS = {
    "subject", "issuer", "audience", "client_id", "scopes", "roles", "jti",
    "expires_at", "issued_at", "not_before", "header", "claims",
}  # fmt: skip


def test_inspect_json(issuer: LocalIssuer) -> None:
    token = issuer.issue("alice", scopes=["orders:read"], expires_in=120, nbf=1_700_000_000)
    result = cli("inspect", "--json", "-", stdin=token)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == INSPECT_KEYS
    assert document["verified"] is False
    assert document["error"] is None
    assert document["header"]["kid"] == issuer.kid
    assert document["claims"]["sub"] == "alice"
    assert document["not_before"] == "2023-11-14T22:13:20Z"
    exp = datetime.fromtimestamp(document["claims"]["exp"], tz=timezone.utc)
    assert document["expires_at"] == exp.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 100 < document["expires_in"] <= 120


def test_inspect_json_of_garbage_is_a_document_too() -> None:
    result = cli("inspect", "--json", "not-a-token")
    assert result.returncode == 1
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert set(document) == INSPECT_KEYS
    assert document["error"] == "malformed_token"
    assert document["header"] is None


def test_verify_json_of_a_valid_token(issuer: LocalIssuer, tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(issuer.public_key_pem)
    token = issuer.issue("alice", scopes=["orders:write", "orders:read"], roles=["admin"])
    argv = ["--pem", str(pem), "--issuer", issuer.issuer, "--audience", AUDIENCE, "--json"]
    result = cli("verify", token, *argv)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert set(document) == VERIFY_KEYS
    assert document["valid"] is True
    assert document["error"] is document["exception"] is None
    assert set(document["token"]) == TOKEN_KEYS
    assert document["token"]["subject"] == "alice"
    assert document["token"]["audience"] == [AUDIENCE]
    assert document["token"]["scopes"] == ["orders:read", "orders:write"]
    assert document["token"]["roles"] == ["admin"]
    assert document["token"]["not_before"] is None
    assert document["token"]["expires_at"].endswith("Z")


def test_verify_json_of_an_invalid_token(issuer: LocalIssuer, tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(issuer.public_key_pem)
    result = cli("verify", issuer.issue(expires_in=-3600), "--pem", str(pem), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "error": "invalid_token",
        "error_description": "The access token has expired.",
        "exception": "TokenExpired",
        "token": None,
    }


def test_key_source_warnings_are_the_command_s_own_messages() -> None:
    down = LocalIssuer(audience=AUDIENCE)
    with down.serve() as url, down.outage():
        argv = ["verify", down.issue(), "--discovery", url, "--audience", AUDIENCE]
        result = cli(*argv, "--timeout", "2", "--json")
    assert result.returncode == 3
    document = json.loads(result.stdout)
    assert document["error"] == "temporarily_unavailable"
    assert document["exception"] == "KeySourceUnavailable"
    lines = result.stderr.splitlines()
    assert lines, "a failed fetch is worth a warning"
    for line in lines:
        assert line.startswith(f"accesstoken: warning: fetching {url}/.well-known/"), line
        assert line.endswith("failed: status 503"), line


def closed_pipe() -> int:
    """Return the write end of a pipe whose reader has gone: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize(
    ("unbuffered", "as_json", "expires_in", "code"),
    [
        (False, False, 300, 0),
        (True, False, -3600, 1),
        (False, True, -3600, 1),
        (True, True, 300, 0),
    ],
)
def test_a_closed_pipe_leaves_the_verdict_and_stderr_alone(
    issuer: LocalIssuer,
    tmp_path: Path,
    unbuffered: bool,
    as_json: bool,
    expires_in: int,
    code: int,
) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(issuer.public_key_pem)
    token = issuer.issue(expires_in=expires_in)
    options = ["--issuer", issuer.issuer, "--audience", AUDIENCE] + ["--json"] * as_json
    write = closed_pipe()
    try:
        for argv, expected in [
            (["inspect", "-"], 0),
            (["verify", "-", "--pem", str(pem), *options], code),
        ]:
            result = cli(*argv, stdin=token, stdout=write, unbuffered=unbuffered)
            assert (result.returncode, result.stderr) == (expected, ""), argv
    finally:
        os.close(write)


@pytest.mark.parametrize("command", ["inspect -", "verify - --pem {pem} --audience {aud}"])
def test_head_takes_the_first_line_quietly(
    issuer: LocalIssuer, tmp_path: Path, command: str
) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(issuer.public_key_pem)
    command = command.format(pem=pem, aud=AUDIENCE)
    script = f"{sys.executable} -m accesstoken {command} | head -1; exit ${{PIPESTATUS[0]}}"
    result = run_process(["bash", "-c", script], issuer.issue())  # a user's shell
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr


def test_demo_mcp_runs_its_tour_and_exits_zero() -> None:
    result = run_process([sys.executable, "-m", "accesstoken", "demo-mcp"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6 steps behaved as expected." in result.stdout
    assert "resource_metadata=" in result.stdout
