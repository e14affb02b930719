"""The `accesstoken` command: `demo`, `inspect` and `verify`, for newcomers and operators.

```console
$ accesstoken inspect eyJhbGciOi...          # header and claims, marked UNVERIFIED
$ accesstoken verify - --discovery https://idp.example.com/ --audience orders-api < token.txt
$ accesstoken demo                            # the whole pattern on 127.0.0.1, in a table
```

Exit codes: 0 valid (or decoded), 1 invalid token, 2 usage error, 3 key source unavailable.
Only the standard library and the core are imported, so the command starts fast and works
without any framework installed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final, NoReturn, TextIO

from ._bearer import split_scheme
from ._json import loads_strict
from ._keys.base import KeySource
from ._keys.discovery import OIDCDiscovery
from ._keys.jwks import JWKSEndpoint
from ._keys.static import HMACSecret, StaticKeys
from ._token import AccessToken
from ._verifier import TokenVerifier
from .errors import KeySourceError, TokenError

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNAVAILABLE: Final = 3
_TIME_CLAIMS: Final = ("exp", "nbf", "iat")


class _UsageError(Exception):
    """A mistake on the command line: exit code 2."""


def _read_token(value: str, stdin: TextIO) -> str:
    """Return the token given as an argument, or read from stdin when it is "-"."""
    raw = stdin.read() if value == "-" else value
    # A trailing newline from `echo` or a file is not part of the token.
    raw = raw.strip()
    if not raw:
        raise _UsageError("no token given")
    return raw


# --- inspect ----------------------------------------------------------------------------


def _decode_segment(segment: str) -> dict[str, Any] | None:
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    return loads_strict(data)


def _human_time(value: object, now: float) -> str | None:
    """Return a NumericDate as "2024-05-01 12:00:00 UTC (in 4m 10s)", or None if not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    delta = value - now
    relative = f"in {_duration(delta)}" if delta >= 0 else f"{_duration(-delta)} ago"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({relative})"


def _duration(seconds: float) -> str:
    """Return a duration as "1d 2h 3m 4s", leaving out the units that are zero."""
    rest = int(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{count}{unit}")
    if rest or not parts:
        parts.append(f"{rest}s")
    return " ".join(parts)


def _inspect(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    raw = _read_token(args.token, stdin)
    raw = split_scheme(raw)[1]
    segments = raw.split(".")
    if len(segments) != 3:
        print("error: not a JWT (a signed JWT has three dot-separated parts)", file=sys.stderr)
        return EXIT_INVALID
    header, claims = _decode_segment(segments[0]), _decode_segment(segments[1])
    if header is None or claims is None:
        print("error: not a JWT (a part is not base64url-encoded JSON)", file=sys.stderr)
        return EXIT_INVALID
    print("UNVERIFIED: the signature and the claims have NOT been checked.", file=out)
    print("Use `accesstoken verify` before trusting anything below.\n", file=out)
    print("Header (UNVERIFIED):", file=out)
    print(json.dumps(header, indent=2, sort_keys=True), file=out)
    print("Claims (UNVERIFIED):", file=out)
    print(json.dumps(claims, indent=2, sort_keys=True), file=out)
    _print_times(claims, out, time.time())
    return EXIT_OK


def _print_times(claims: Mapping[str, Any], out: TextIO, now: float) -> None:
    labels = {"exp": "expires", "nbf": "not before", "iat": "issued"}
    lines = []
    for claim in _TIME_CLAIMS:
        if claim in claims:
            human = _human_time(claims[claim], now) or "not a NumericDate"
            lines.append(f"  {claim} ({labels[claim]}): {human}")
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        left = exp - now
        status = _duration(left) if left >= 0 else f"none, EXPIRED {_duration(-left)} ago"
        lines.append(f"  time left: {status}")
    if lines:
        print("Times:", file=out)
        print("\n".join(lines), file=out)


# --- verify -----------------------------------------------------------------------------


def _key_source(args: argparse.Namespace) -> KeySource:
    """Return the key source named on the command line.

    Raises:
        _UsageError: a bad file, secret or URL (the operator's mistake, exit code 2).
    """
    try:
        if args.pem is not None:
            return StaticKeys.from_file(args.pem)
        if args.secret is not None:
            return HMACSecret(args.secret)
        if args.jwks_url is not None:
            return JWKSEndpoint(args.jwks_url, timeout=args.timeout)
        return OIDCDiscovery(args.discovery, timeout=args.timeout)
    except OSError as exc:
        raise _UsageError(f"cannot read {args.pem}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from None


def _verify(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    raw = _read_token(args.token, stdin)
    keys = _key_source(args)
    issuer = args.issuer
    if issuer is None and args.discovery is not None:
        issuer = args.discovery  # the discovery document has been checked against it
    if issuer is None:
        print("warning: no --issuer given; the issuer is NOT checked", file=sys.stderr)
    if args.audience is None:
        print("warning: no --audience given; the audience is NOT checked", file=sys.stderr)
    try:
        verifier = TokenVerifier(
            keys,
            issuer=issuer,
            audience=args.audience,
            algorithms=args.algorithm or None,
            leeway=args.leeway,
        )
    except (ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from None
    try:
        token = verifier.verify(raw, scopes=tuple(args.scope))
    except TokenError as exc:
        print(f"INVALID  {exc.error or 'missing_token'}: {exc.description}", file=out)
        print(f"         ({type(exc).__name__})", file=out)
        return EXIT_INVALID
    except KeySourceError as exc:
        print(f"UNAVAILABLE  {exc.error}: {exc.description}", file=out)
        return EXIT_UNAVAILABLE
    _print_valid(token, out)
    return EXIT_OK


def _print_valid(token: AccessToken, out: TextIO) -> None:
    now = time.time()
    print("VALID", file=out)
    rows = [
        ("subject", token.subject),
        ("issuer", token.issuer),
        ("audience", " ".join(token.audience) or None),
        ("client_id", token.client_id),
        ("scopes", " ".join(sorted(token.scopes)) or None),
        ("roles", " ".join(sorted(token.roles)) or None),
        ("expires", _human_time(token.claims.get("exp"), now)),
    ]
    for name, value in rows:
        if value is not None:
            print(f"  {name + ':':<11}{value}", file=out)
    print("Claims:", file=out)
    print(json.dumps(dict(token.claims), indent=2, sort_keys=True), file=out)


# --- main -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accesstoken",
        description="Verify OAuth 2.0 bearer access tokens, and see the pattern at work.",
        epilog="Exit codes: 0 valid, 1 invalid token, 2 usage, 3 key source unavailable.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = commands.add_parser(
        "demo", help="run an identity provider, a gateway and a service on 127.0.0.1"
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the servers up after the tour and print how to call them (Ctrl-C stops)",
    )

    inspect = commands.add_parser("inspect", help="print a token's header and claims, UNVERIFIED")
    inspect.add_argument("token", help='the token, or "-" to read it from stdin')

    verify = commands.add_parser("verify", help="verify a token and print its claims or the error")
    verify.add_argument("token", help='the token, or "-" to read it from stdin')
    keys = verify.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks-url", metavar="URL", help="the issuer's JWK Set URL")
    keys.add_argument("--discovery", metavar="ISSUER", help="the issuer URL, for OIDC discovery")
    keys.add_argument("--pem", metavar="FILE", help="a PEM, JWK or JWK Set file")
    keys.add_argument("--secret", help="a shared HMAC secret (visible to other local users)")
    verify.add_argument("--issuer", help="the expected iss (default with --discovery: ISSUER)")
    verify.add_argument("--audience", help="the expected aud")
    verify.add_argument(
        "--scope", action="append", default=[], help="a scope the token must grant (repeatable)"
    )
    verify.add_argument(
        "--algorithm", action="append", default=[], help="an allowed alg (repeatable)"
    )
    verify.add_argument("--leeway", type=float, default=60, help="clock skew in seconds (60)")
    verify.add_argument("--timeout", type=float, default=5.0, help="key fetch timeout (5s)")
    return parser


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    """Run the command line; return its exit code.

    Args:
        argv: the arguments, without the program name; default `sys.argv[1:]`.
        stdin: where "-" reads the token from; default `sys.stdin`.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    out = sys.stdout
    try:
        if args.command == "demo":
            from ._demo import run_demo

            return run_demo(out, keep_running=args.keep_running)
        if args.command == "inspect":
            return _inspect(args, out, stdin or sys.stdin)
        return _verify(args, out, stdin or sys.stdin)
    except _UsageError as exc:
        print(f"accesstoken: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
