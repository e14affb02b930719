"""The `accesstoken` command: `demo`, `inspect` and `verify`, for newcomers and operators.

```console
$ accesstoken inspect eyJhbGciOi...          # header and claims, marked UNVERIFIED
$ accesstoken verify - --discovery https://idp.example.com/ --audience orders-api < token.txt
$ accesstoken verify - --pem idp.pem --json < token.txt | jq .token.subject
$ accesstoken demo                            # the whole pattern on 127.0.0.1, in a table
```

Exit codes: 0 valid (or decoded), 1 invalid token, 2 usage error, 3 key source unavailable.
The exit code is the verdict, whoever reads the output: a reader that stops early
(`| head -1`) changes neither the code nor stderr. Only the standard library and the core are
imported, so the command starts fast and works without any framework installed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Final, NoReturn, TextIO

from . import __version__
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
# 128 + SIGPIPE, what a shell reports for a program its reader left: only when the output
# broke off before the command knew its own exit code (`demo`, which writes as it goes).
EXIT_CLOSED_PIPE: Final = 141
_TIME_CLAIMS: Final = ("exp", "nbf", "iat")
# The keys of the JSON documents (docs/cli.md): present in every document, null when unknown.
_TIME_KEYS: Final = {"exp": "expires_at", "nbf": "not_before", "iat": "issued_at"}
_ERROR_KEYS: Final = ("error", "error_description", "exception")


class _UsageError(Exception):
    """A mistake on the command line: exit code 2."""


def _message(level: str, text: str) -> str:
    """Return one line of the command's own diagnostics, as stderr shows them."""
    return f"accesstoken: {level}: {text}"


def _warn(text: str) -> None:
    print(_message("warning", text), file=sys.stderr)


class _MessageHandler(logging.Handler):
    """Shows the library's log records as the command's own one-line messages on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        # sys.stderr is looked up per record: tests and callers may swap it.
        print(_message(record.levelname.lower(), record.getMessage()), file=sys.stderr)


@contextmanager
def _library_warnings_as_messages() -> Iterator[None]:
    """Show the `accesstoken` logger's warnings (a failed key fetch) as `accesstoken: warning:`.

    Without a handler, Python's last-resort handler would print the bare message, and an
    application's logging setup is no business of a command line's.
    """
    logger = logging.getLogger("accesstoken")
    handler = _MessageHandler(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


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


def _instant(value: object) -> datetime | None:
    """Return a NumericDate (RFC 7519 §2) as a UTC datetime, or None if not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _human_time(value: object, now: float) -> str | None:
    """Return a NumericDate as "2024-05-01 12:00:00 UTC (in 4m 10s)", or None if not one."""
    moment = _instant(value)
    if moment is None:
        return None
    delta = moment.timestamp() - now
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


def _iso_time(value: object) -> str | None:
    """Return a NumericDate as RFC 3339 UTC ("2024-05-01T12:00:00Z"), or None if not one."""
    moment = _instant(value)
    return None if moment is None else f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def _print_json(document: Mapping[str, Any], out: TextIO) -> None:
    print(json.dumps(document, indent=2, sort_keys=True), file=out)


def _not_a_jwt(reason: str, args: argparse.Namespace, out: TextIO) -> int:
    description = f"not a JWT ({reason})"
    if args.json:
        document = dict.fromkeys(("header", "claims", *_TIME_KEYS.values(), "expires_in"))
        error = {"error": "malformed_token", "error_description": description}
        _print_json({"verified": False, **document, **error}, out)
    else:
        print(_message("error", description), file=sys.stderr)
    return EXIT_INVALID


def _inspect(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    raw = _read_token(args.token, stdin)
    raw = split_scheme(raw)[1]
    segments = raw.split(".")
    if len(segments) != 3:
        return _not_a_jwt("a signed JWT has three dot-separated parts", args, out)
    header, claims = _decode_segment(segments[0]), _decode_segment(segments[1])
    if header is None or claims is None:
        return _not_a_jwt("a part is not base64url-encoded JSON", args, out)
    now = time.time()
    if args.json:
        times = {key: _iso_time(claims.get(claim)) for claim, key in _TIME_KEYS.items()}
        exp = claims["exp"] if times["expires_at"] else None
        document = {
            "verified": False,
            "error": None,
            "error_description": None,
            "header": header,
            "claims": claims,
            **times,
            "expires_in": None if exp is None else int(exp - now),
        }
        _print_json(document, out)
        return EXIT_OK
    print("UNVERIFIED: the signature and the claims have NOT been checked.", file=out)
    print("Use `accesstoken verify` before trusting anything below.\n", file=out)
    print("Header (UNVERIFIED):", file=out)
    print(json.dumps(header, indent=2, sort_keys=True), file=out)
    print("Claims (UNVERIFIED):", file=out)
    print(json.dumps(claims, indent=2, sort_keys=True), file=out)
    _print_times(claims, out, now)
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
        _warn("no --issuer given; the issuer is NOT checked")
    if args.audience is None:
        _warn("no --audience given; the audience is NOT checked")
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
        _print_refusal("INVALID", exc, args.json, out)
        return EXIT_INVALID
    except KeySourceError as exc:
        _print_refusal("UNAVAILABLE", exc, args.json, out)
        return EXIT_UNAVAILABLE
    if args.json:
        _print_json(
            {"valid": True, **dict.fromkeys(_ERROR_KEYS), "token": _token_document(token)}, out
        )
    else:
        _print_valid(token, out)
    return EXIT_OK


def _print_refusal(
    verdict: str, exc: TokenError | KeySourceError, as_json: bool, out: TextIO
) -> None:
    error = exc.error or "missing_token"
    if as_json:
        values = (error, exc.description, type(exc).__name__)
        _print_json(
            {"valid": False, **dict(zip(_ERROR_KEYS, values, strict=True)), "token": None}, out
        )
        return
    print(f"{verdict}  {error}: {exc.description}", file=out)
    if isinstance(exc, TokenError):
        print(f"         ({type(exc).__name__})", file=out)


def _token_document(token: AccessToken) -> dict[str, Any]:
    """Return what `verify --json` says of a valid token; every key is always present."""
    return {
        "subject": token.subject,
        "issuer": token.issuer,
        "audience": list(token.audience),
        "client_id": token.client_id,
        "scopes": sorted(token.scopes),
        "roles": sorted(token.roles),
        "jti": token.jti,
        **{key: _iso_time(token.claims.get(claim)) for claim, key in _TIME_KEYS.items()},
        "header": dict(token.header),
        "claims": dict(token.claims),
    }


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = commands.add_parser(
        "demo", help="run an identity provider, a gateway and a service on 127.0.0.1"
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the servers up after the tour and print how to call them (Ctrl-C stops)",
    )

    commands.add_parser(
        "demo-mcp",
        help="an MCP client refused, told where to get a token, then served (needs [mcp])",
    )

    commands.add_parser(
        "demo-grpc",
        help="a gRPC service behind AccessTokenInterceptor, called over a channel (needs [grpc])",
    )

    inspect = commands.add_parser("inspect", help="print a token's header and claims, UNVERIFIED")
    inspect.add_argument("token", help='the token, or "-" to read it from stdin')
    inspect.add_argument("--json", action="store_true", help="print one JSON object")

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
    verify.add_argument("--json", action="store_true", help="print one JSON object")
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
    code = EXIT_CLOSED_PIPE
    try:
        code, output = _run(args, stdin or sys.stdin)
        sys.stdout.write(output)
        sys.stdout.flush()
    except _UsageError as exc:
        print(_message("error", str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _discard_stdout()
    return code


def _run(args: argparse.Namespace, stdin: TextIO) -> tuple[int, str]:
    """Run the chosen command; return its exit code and the output still to write.

    `demo` writes as it goes; `inspect` and `verify` hand back their whole output, so their
    exit code is known before a closed pipe can interrupt the writing.
    """
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(sys.stdout, keep_running=args.keep_running), ""
    if args.command == "demo-mcp":
        try:
            from ._demo_mcp import run_mcp_demo
        except ImportError as exc:  # the extra is missing: say which
            raise _UsageError(str(exc)) from None
        return run_mcp_demo(sys.stdout), ""
    if args.command == "demo-grpc":
        try:
            from ._demo_grpc import run_grpc_demo
        except ImportError as exc:  # grpcio is missing: accesstoken.grpc says how to get it
            raise _UsageError(str(exc)) from None
        return run_grpc_demo(sys.stdout), ""
    out = io.StringIO()
    if args.command == "inspect":
        code = _inspect(args, out, stdin)
    else:
        with _library_warnings_as_messages():
            code = _verify(args, out, stdin)
    return code, out.getvalue()


def _discard_stdout() -> None:
    """Send what is left for stdout to /dev/null, so that the flush at exit fails no more.

    The reader of a pipe went away (`accesstoken inspect ... | head -1`): the recipe of
    Python's documentation, "Note on SIGPIPE", in the `signal` module.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
