"""The package surface: exported names, and no framework imported by the core."""

from __future__ import annotations

import subprocess
import sys

import accesstoken

CONTRACT = {
    "AccessToken",
    "TokenVerifier",
    "KeySource",
    "RevocationCheck",
    "HMACSecret",
    "StaticKeys",
    "JWKSEndpoint",
    "OIDCDiscovery",
}


def test_contract_names_are_exported() -> None:
    assert set(accesstoken.__all__) >= CONTRACT
    assert accesstoken.__all__ == sorted(accesstoken.__all__)
    for name in accesstoken.__all__:
        assert getattr(accesstoken, name).__module__ == "accesstoken"


def test_core_import_needs_no_framework() -> None:
    code = (
        "import sys, accesstoken; "
        "names = ('fastapi', 'starlette', 'flask', 'werkzeug', 'redis'); "
        "bad = [m for m in names if m in sys.modules]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
