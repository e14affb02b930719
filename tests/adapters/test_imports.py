"""The core never imports a framework; a missing framework names the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_accesstoken_imports_no_framework() -> None:
    result = run(
        "import sys, accesstoken, accesstoken.asgi, accesstoken.forwarding\n"
        "frameworks = {'fastapi', 'flask', 'starlette', 'werkzeug', 'uvicorn', 'django', 'grpc'}\n"
        "loaded = frameworks & set(sys.modules)\n"
        "print(sorted(loaded))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "framework"),
    [
        ("fastapi", "fastapi"),
        ("flask", "flask"),
        ("django", "django"),
        ("starlette", "starlette"),
        ("grpc", "grpc"),
        ("mcp", "mcp"),
    ],
)
def test_missing_framework_names_the_extra(module: str, framework: str) -> None:
    result = run(f"import sys; sys.modules[{framework!r}] = None; import accesstoken.{module}")
    assert result.returncode == 1
    assert f"pip install 'accesstoken[{framework}]'" in result.stderr
