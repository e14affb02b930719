"""The `accesstoken` command line: inspect, verify, exit codes 0/1/2/3, stdin."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
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
    result = subprocess.run(
        [sys.executable, "-m", "accesstoken", "inspect", "-"],
        input=issuer.issue(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "UNVERIFIED" in result.stdout
