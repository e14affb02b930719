"""How long one token verification takes, against the signature alone and against the peers.

    python benchmarks/verify.py                  # full run, about two minutes
    python benchmarks/verify.py --quick          # under 30 s
    python benchmarks/verify.py --quick --check  # CI: correctness agreement only, no timing
    python benchmarks/verify.py --json out.json

For HS256, RS256, PS256, ES256 and EdDSA it times, in one process and interleaved (every
implementation once per round, many short rounds, the garbage collector off inside a
round, medians over rounds):

- sig: the bare `cryptography` (or `hmac`) verification of the same signature, with the
  signing input and signature already decoded: the physical floor of the algorithm;
- floor: a minimal hand-written verifier (split, base64url, `json.loads`, verify,
  exp/nbf/iss/aud), what any correct verifier must at least do;
- accesstoken with static keys, with a warm `JWKSEndpoint` (kid lookup, asymmetric
  algorithms only: a shared secret is never published), with `cache_size` (the same token
  again), behind a two-issuer `MultiIssuerVerifier` (selection by `iss`; once with the same
  token on every call, once with a token it has never seen on every call, cycling through
  more pre-minted tokens than it remembers, the `next()` of the cycle counted against it)
  and with one event listener subscribed (the plain row has none);
- PyJWT (`jwt.decode` with a key loaded once; `PyJWKClient` for the kid path), joserfc
  (`jwt.decode` + `JWTClaimsRegistry`; a `KeySet` for the kid path) and Authlib
  (`JsonWebToken.decode` + `validate`; a `KeySet` for the kid path).

Before anything is timed, every implementation must accept the good token and reject a bad
signature, a wrong audience, a wrong issuer and an expired token (sig: the good and the bad
signature only), so that nothing is timed that does not really verify. An implementation
that disagrees is reported, not timed, and the script exits with status 1.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import hmac
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import cycle, repeat
from typing import Any

# authlib.deprecate installs an "always" filter for its own warning: override it afterwards.
import authlib.deprecate
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from _common import describe_machine, machine, median
from accesstoken import JWKSEndpoint, KeySource, MultiIssuerVerifier, TokenVerifier
from accesstoken._multi import _CHOSEN_MEMO_SIZE
from accesstoken.events import hub
from accesstoken.testing import LocalIssuer

warnings.simplefilter("ignore")  # the peers' deprecation notices are not results
import authlib.jose  # noqa: E402, F401

ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")
ISSUER = "https://issuer.test/"
AUDIENCE = "api"
LEEWAY = 60
SCOPES = ("orders:read", "orders:write")
BAD_TOKENS = ("bad signature", "wrong audience", "wrong issuer", "expired")
# Row order in the tables; the "kid" rows compare with PyJWT's kid row.
ROWS = (
    "sig",
    "floor",
    "accesstoken",
    "accesstoken kid",
    "accesstoken cache",
    "accesstoken multi",
    "accesstoken multi, new token",
    "accesstoken listener",
    "PyJWT",
    "PyJWT kid",
    "joserfc",
    "joserfc kid",
    "Authlib",
    "Authlib kid",
)
PEERS = ("PyJWT", "joserfc", "Authlib")

Verify = Callable[[str], object]


@dataclass
class Case:
    """One algorithm's keys and tokens."""

    alg: str
    issuer: LocalIssuer
    jwks_url: str | None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def good(self) -> str:
        return self.tokens["good"]


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def mint(issuer: LocalIssuer, **claims: Any) -> str:
    """Return a token of `issuer` with the benchmark's claims, changed by `claims`."""
    return issuer.issue(scopes=SCOPES, iss=claims.pop("iss", ISSUER), **claims)


def make_case(alg: str, jwks_url: str | None, issuer: LocalIssuer) -> Case:
    """Return the tokens of one algorithm: the good one and one per way of being bad."""

    def issue(**claims: Any) -> str:
        return mint(issuer, **claims)

    good = issue()
    other = issue(sub="someone-else")
    signing_input = good.rsplit(".", 1)[0]
    tokens = {
        "good": good,
        # A real signature by the right key, over other content: only the signature is wrong.
        "bad signature": f"{signing_input}.{other.rsplit('.', 1)[1]}",
        "wrong audience": issue(aud="another-api"),
        "wrong issuer": issue(iss="https://evil.test/"),
        "expired": issue(expires_in=-3600),
    }
    return Case(alg, issuer, jwks_url, tokens)


# -- the physical floor: the primitive alone, and a minimal verifier --------------------------


def _primitive(case: Case) -> Callable[[bytes, bytes], None]:
    """Return a function that raises unless the signature over the data verifies."""
    alg = case.alg
    if alg == "HS256":
        secret = case.issuer.secret

        def verify_hmac(data: bytes, signature: bytes) -> None:
            if not hmac.compare_digest(hmac.digest(secret, data, "sha256"), signature):
                raise ValueError("bad signature")

        return verify_hmac
    public = load_pem_public_key(case.issuer.public_key_pem.encode())
    if alg in ("RS256", "PS256"):
        assert isinstance(public, rsa.RSAPublicKey)
        rsa_key = public
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg == "RS256"
            else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        )
        sha256 = hashes.SHA256()
        return lambda data, signature: rsa_key.verify(signature, data, pad, sha256)
    if alg == "ES256":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        ec_key = public
        ecdsa = ec.ECDSA(hashes.SHA256())

        def verify_ecdsa(data: bytes, signature: bytes) -> None:
            if len(signature) != 64:
                raise ValueError("bad signature")
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            ec_key.verify(encode_dss_signature(r, s), data, ecdsa)

        return verify_ecdsa
    assert isinstance(public, ed25519.Ed25519PublicKey)
    ed_key = public
    return lambda data, signature: ed_key.verify(signature, data)


def make_sig(case: Case) -> dict[str, Callable[[], object]]:
    """Return, per token, the bare signature check on inputs decoded beforehand."""
    primitive = _primitive(case)
    if case.alg == "ES256":
        # Pre-decoded means ready for the primitive: DER, as cryptography wants it.
        ec_key = load_pem_public_key(case.issuer.public_key_pem.encode())
        assert isinstance(ec_key, ec.EllipticCurvePublicKey)
        ecdsa = ec.ECDSA(hashes.SHA256())

        def prepared(raw: str) -> Callable[[], object]:
            data, _, signature = raw.rpartition(".")
            sig = _b64decode(signature)
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            encoded = data.encode()
            return lambda: ec_key.verify(der, encoded, ecdsa)

    else:

        def prepared(raw: str) -> Callable[[], object]:
            data, _, signature = raw.rpartition(".")
            encoded, sig = data.encode(), _b64decode(signature)
            return lambda: primitive(encoded, sig)

    return {name: prepared(case.tokens[name]) for name in ("good", "bad signature")}


def make_floor(case: Case) -> Verify:
    """Return the least a correct verifier does: split, decode, verify, then exp/nbf/iss/aud."""
    primitive = _primitive(case)
    alg = case.alg

    def verify(raw: str) -> object:
        header_segment, payload_segment, signature_segment = raw.split(".")
        header = json.loads(_b64decode(header_segment))
        if header["alg"] != alg:
            raise ValueError("algorithm")
        primitive(f"{header_segment}.{payload_segment}".encode(), _b64decode(signature_segment))
        claims = json.loads(_b64decode(payload_segment))
        now = time.time()
        if now >= claims["exp"] + LEEWAY:
            raise ValueError("expired")
        if "nbf" in claims and now + LEEWAY < claims["nbf"]:
            raise ValueError("not yet valid")
        if claims["iss"] != ISSUER:
            raise ValueError("issuer")
        aud = claims["aud"]
        if aud != AUDIENCE and not (isinstance(aud, list) and AUDIENCE in aud):
            raise ValueError("audience")
        return claims

    return verify


# -- accesstoken ---------------------------------------------------------------------------


def make_accesstoken(case: Case) -> Verify:
    return TokenVerifier(case.issuer.key_source(), issuer=ISSUER, audience=AUDIENCE).verify


def make_accesstoken_kid(case: Case) -> Verify | None:
    if case.jwks_url is None:
        return None
    keys = JWKSEndpoint(case.jwks_url)
    keys.key_set()  # warm: the timed calls never fetch
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE).verify


def make_accesstoken_multi(case: Case) -> Verify:
    """Two issuers, selected by the token's `iss`: what selection adds to a verification."""
    other = LocalIssuer(issuer="https://other.test/", audience=AUDIENCE)
    return MultiIssuerVerifier(
        {
            ISSUER: TokenVerifier(case.issuer.key_source(), issuer=ISSUER, audience=AUDIENCE),
            other.issuer: other.verifier(),
        }
    ).verify


def make_accesstoken_multi_new(case: Case) -> Verify:
    """The multi row with a token it has never seen on every call: what selection adds to a
    first presentation.

    The good token is replaced, on every call, by the next of more distinct tokens (of the
    same claims) than a `MultiIssuerVerifier` remembers; the other tokens go through as
    they are, so that the agreement check still sees them refused.
    """
    verify, good = make_accesstoken_multi(case), case.good
    fresh = cycle([mint(case.issuer) for _ in range(_CHOSEN_MEMO_SIZE + 1)])

    def verify_new(raw: str) -> object:
        return verify(next(fresh) if raw is good else raw)

    return verify_new


def make_accesstoken_listener(case: Case) -> Verify:
    """One event listener subscribed (doing nothing): what emitting events costs.

    The hub is the process's, so the listener is in place only around this row's calls;
    the two assignments each way are counted against it, overstating it slightly.
    """
    verifier = TokenVerifier(case.issuer.key_source(), issuer=ISSUER, audience=AUDIENCE)
    listeners = (lambda event: None,)

    def verify(raw: str) -> object:
        hub.listeners, hub.active = listeners, True
        try:
            return verifier.verify(raw)
        finally:
            hub.listeners, hub.active = (), False

    return verify


def make_accesstoken_cache(case: Case) -> Verify:
    verifier = TokenVerifier(
        case.issuer.key_source(), issuer=ISSUER, audience=AUDIENCE, cache_size=1024
    )
    return verifier.verify


# -- the peers -----------------------------------------------------------------------------


def _public_key(case: Case) -> Any:
    if case.alg == "HS256":
        return case.issuer.secret
    return load_pem_public_key(case.issuer.public_key_pem.encode())


def make_pyjwt(case: Case) -> Verify:
    import jwt

    key, alg = _public_key(case), case.alg
    options = {"require": ["exp", "iss", "aud"]}

    def verify(raw: str) -> object:
        return jwt.decode(
            raw, key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY,
            options=options,
        )  # fmt: skip

    return verify


def make_pyjwt_kid(case: Case) -> Verify | None:
    if case.jwks_url is None:
        return None
    import jwt

    client = jwt.PyJWKClient(case.jwks_url, cache_keys=True)
    alg = case.alg
    options = {"require": ["exp", "iss", "aud"]}

    def verify(raw: str) -> object:
        key = client.get_signing_key_from_jwt(raw).key
        return jwt.decode(
            raw, key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY,
            options=options,
        )  # fmt: skip

    verify(case.good)  # warm the client's key cache
    return verify


def _joserfc(case: Case, key: Any) -> Verify:
    from joserfc import jwt

    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )
    algorithms = [case.alg]

    def verify(raw: str) -> object:
        token = jwt.decode(raw, key, algorithms=algorithms)
        registry.validate(token.claims)
        return token

    return verify


def make_joserfc(case: Case) -> Verify:
    from joserfc import jwk

    return _joserfc(case, jwk.import_key(case.issuer.jwks["keys"][0]))


def make_joserfc_kid(case: Case) -> Verify | None:
    if case.jwks_url is None:
        return None
    from joserfc import jwk

    return _joserfc(case, jwk.KeySet.import_key_set(case.issuer.jwks))


def _authlib(case: Case, key: Any) -> Verify:
    from authlib.jose import JsonWebToken

    decoder = JsonWebToken([case.alg])
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True},
    }

    def verify(raw: str) -> object:
        claims = decoder.decode(raw, key, claims_options=options)
        claims.validate(leeway=LEEWAY)
        return claims

    return verify


def make_authlib(case: Case) -> Verify:
    from authlib.jose import JsonWebKey

    return _authlib(case, JsonWebKey.import_key(case.issuer.jwks["keys"][0]))


def make_authlib_kid(case: Case) -> Verify | None:
    if case.jwks_url is None:
        return None
    from authlib.jose import JsonWebKey

    return _authlib(case, JsonWebKey.import_key_set(case.issuer.jwks))


FACTORIES: dict[str, Callable[[Case], Verify | None]] = {
    "floor": make_floor,
    "accesstoken": make_accesstoken,
    "accesstoken kid": make_accesstoken_kid,
    "accesstoken cache": make_accesstoken_cache,
    "accesstoken multi": make_accesstoken_multi,
    "accesstoken multi, new token": make_accesstoken_multi_new,
    "accesstoken listener": make_accesstoken_listener,
    "PyJWT": make_pyjwt,
    "PyJWT kid": make_pyjwt_kid,
    "joserfc": make_joserfc,
    "joserfc kid": make_joserfc_kid,
    "Authlib": make_authlib,
    "Authlib kid": make_authlib_kid,
}


def lookups(case: Case) -> dict[str, tuple[Callable[[Any], object], Any]]:
    """Return the key lookup a verifier makes per token, on static keys and on a warm endpoint.

    The only code in which the static and kid rows differ; timed on its own because the
    difference, a fraction of a µs, is far below the noise of a whole asymmetric verify.
    """
    assert case.jwks_url is not None
    remote = JWKSEndpoint(case.jwks_url)
    remote.key_set()  # warm

    def lookup(source: KeySource, kid: str = case.issuer.kid, alg: str = case.alg) -> object:
        key_set = source.key_set_nowait() or source.key_set()
        return key_set.select(kid, alg)

    return {"lookup static": (lookup, case.issuer.key_source()), "lookup kid": (lookup, remote)}


# -- correctness, then timing --------------------------------------------------------------


def _accepts(call: Callable[[], object]) -> bool:
    try:
        call()
    except Exception:  # every library has its own errors; any refusal counts
        return False
    return True


def check(
    case: Case, sig: dict[str, Callable[[], object]], verifiers: dict[str, Verify]
) -> list[str]:
    """Return one line per disagreement with the expected accept/reject outcome."""
    problems = []
    if not _accepts(sig["good"]) or _accepts(sig["bad signature"]):
        problems.append(f"{case.alg} sig: the primitive disagrees on the good or bad signature")
    for name, verify in verifiers.items():
        # Twice: the second call of a caching verifier answers from its cache.
        for attempt in range(2):
            if not _accepts(lambda v=verify: v(case.good)):
                problems.append(f"{case.alg} {name}: refused the good token (call {attempt + 1})")
        for bad in BAD_TOKENS:
            for _ in range(2):
                if _accepts(lambda v=verify, b=bad: v(case.tokens[b])):
                    problems.append(f"{case.alg} {name}: accepted a token with {bad}")
                    break
    return problems


def _batch(call: Callable[[Any], object], argument: Any, count: int) -> int:
    start = time.perf_counter_ns()
    for _ in repeat(None, count):
        call(argument)
    return time.perf_counter_ns() - start


def _count_for(call: Callable[[Any], object], argument: Any, batch_ns: float) -> int:
    """Return how many calls fill about `batch_ns` nanoseconds."""
    _batch(call, argument, 20)
    per_call = max(_batch(call, argument, 50) / 50, 100.0)
    return max(5, int(batch_ns / per_call))


def measure(
    timed: dict[str, tuple[Callable[[Any], object], Any]], rounds: int, batch_ns: float
) -> dict[str, float]:
    """Return the median microseconds per call of each entry, interleaved over `rounds`."""
    counts = {name: _count_for(call, arg, batch_ns) for name, (call, arg) in timed.items()}
    samples: dict[str, list[float]] = {name: [] for name in timed}
    forward = list(timed.items())
    for round_number in range(rounds):
        gc.collect()
        gc.disable()
        try:
            # A B C ... then ... C B A: a drift in machine speed within a round then
            # favours no implementation.
            for name, (call, argument) in forward if round_number % 2 == 0 else forward[::-1]:
                count = counts[name]
                samples[name].append(_batch(call, argument, count) / count / 1000)
        finally:
            gc.enable()
    return {name: median(values) for name, values in samples.items()}


@contextlib.contextmanager
def served(issuer: LocalIssuer) -> Iterator[str | None]:
    """Serve the issuer's JWK Set on 127.0.0.1 (None for a shared secret, never published)."""
    if issuer.is_symmetric:
        yield None
        return
    with issuer.serve() as url:
        yield f"{url}/jwks.json"


def profile(algorithm: str, name: str, calls: int) -> None:
    """Print where one implementation spends its time (cProfile, by own time)."""
    import cProfile
    import pstats

    issuer = LocalIssuer(algorithm, issuer=ISSUER, audience=AUDIENCE)
    with served(issuer) as jwks_url:
        case = make_case(algorithm, jwks_url, issuer)
        factory = FACTORIES.get(name)
        verify = factory(case) if factory is not None else None
        if verify is None:
            raise SystemExit(f"no implementation {name!r} for {algorithm}")
        token = case.good
        verify(token)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            verify(token)
        profiler.disable()
    print(f"{name}, {algorithm}, {calls} calls (cProfile inflates call-heavy code):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def run(
    algorithms: tuple[str, ...], *, rounds: int, batch_ns: float, timing: bool
) -> dict[str, Any]:
    results: dict[str, dict[str, float]] = {}
    problems: list[str] = []
    for alg in algorithms:
        issuer = LocalIssuer(alg, issuer=ISSUER, audience=AUDIENCE)
        with served(issuer) as jwks_url:
            case = make_case(alg, jwks_url, issuer)
            sig = make_sig(case)
            verifiers = {
                name: verify
                for name, factory in FACTORIES.items()
                if (verify := factory(case)) is not None
            }
            found = check(case, sig, verifiers)
            problems.extend(found)
            if not timing:
                continue
            refused = {line.split(": ")[0].split(" ", 1)[1] for line in found}
            timed: dict[str, tuple[Callable[[Any], object], Any]] = {}
            if "sig" not in refused:
                timed["sig"] = (lambda good: good(), sig["good"])
            for name, verify in verifiers.items():
                if name not in refused:
                    timed[name] = (verify, case.good)
            if jwks_url is not None:
                timed.update(lookups(case))
            results[alg] = measure(timed, rounds, batch_ns)
    return {"machine": machine(), "results": results, "problems": problems}


# -- the report ----------------------------------------------------------------------------


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}" if value and base else "—"


def table(results: dict[str, dict[str, float]]) -> str:
    """Return a Markdown table per algorithm: µs, × floor, × PyJWT (same path)."""
    lines = []
    for alg, row in results.items():
        lines += [
            f"**{alg}**",
            "",
            "| implementation | µs | × floor | × PyJWT |",
            "|---|--:|--:|--:|",
        ]
        for name in ROWS:
            if name not in row:
                continue
            pyjwt = row.get("PyJWT kid") if name.endswith(" kid") else row.get("PyJWT")
            lines.append(
                f"| {name} | {row[name]:.1f} | {_ratio(row[name], row.get('floor'))} "
                f"| {_ratio(row[name], pyjwt)} |"
            )
        if "lookup kid" in row:
            lines += [
                "",
                f"key lookup per token: static {row['lookup static']:.2f} µs, "
                f"warm JWKSEndpoint {row['lookup kid']:.2f} µs",
            ]
        lines.append("")
    return "\n".join(lines)


def targets(results: dict[str, dict[str, float]]) -> list[tuple[str, bool]]:
    """Return each target of the performance issue with whether this run meets it."""
    verdicts = []
    for alg, row in results.items():
        ours, floor = row.get("accesstoken"), row.get("floor")
        if ours and floor:
            limit = 2.0 if alg.startswith("HS") else 1.15
            verdicts.append(
                (f"{alg}: static {ours / floor:.2f}× floor ≤ {limit}×", ours <= limit * floor)
            )
        for path in ("", " kid"):
            mine = row.get(f"accesstoken{path}")
            for peer in PEERS:
                theirs = row.get(f"{peer}{path}")
                if mine and theirs:
                    verdicts.append(
                        (
                            f"{alg}{path}: faster than {peer} ({mine:.1f} < {theirs:.1f} µs)",
                            mine < theirs,
                        )
                    )
        kid, lookup, static_lookup = (
            row.get("accesstoken kid"),
            row.get("lookup kid"),
            row.get("lookup static"),
        )
        if kid and ours and lookup and static_lookup:
            extra = lookup - static_lookup
            verdicts.append(
                (
                    f"{alg}: warm kid lookup +{extra:.2f} µs over static keys ≤ +2 µs "
                    f"(lookups {lookup:.2f} vs {static_lookup:.2f} µs; whole verify "
                    f"{kid - ours:+.1f} µs, within noise)",
                    extra <= 2.0,
                )
            )
        for name, what in (("multi", "same token"), ("multi, new token", "new token")):
            multi = row.get(f"accesstoken {name}")
            if multi and ours:
                verdicts.append(
                    (
                        f"{alg}: issuer selection, {what}, {multi - ours:+.2f} µs ≤ +1 µs "
                        f"({name} {multi:.1f} vs {ours:.1f} µs)",
                        multi - ours <= 1.0,
                    )
                )
    rs256 = results.get("RS256", {}).get("accesstoken")
    for alg, row in results.items():
        cached = row.get("accesstoken cache")
        if cached and rs256:
            verdicts.append(
                (
                    f"{alg}: cached {cached:.2f} µs ≤ RS256 verify / 10 ({rs256 / 10:.2f} µs)",
                    cached <= rs256 / 10,
                )
            )
    return verdicts


def dpop_row(rounds: int, *, quick: bool) -> dict[str, Any]:
    """Time a DPoP-bound ES256 token verified with a fresh ES256 proof (`benchmarks/dpop.py`).

    Judged against its two signature checks (the token's and the proof's) plus 20 µs.
    """
    from _common import measure
    from dpop import build_cases

    calls = 50 if quick else 200
    cases = build_cases(min(rounds, 40) * calls + 1)
    chosen = {name: cases[name] for name in ("verify token and proof", "proof signature (ES256)")}
    results = {name: sec * 1e6 for name, sec in measure(chosen, min(rounds, 40), calls).items()}
    both, signature = results["verify token and proof"], results["proof signature (ES256)"]
    limit = 2 * signature + 20
    print(f"\nDPoP (ES256 token, ES256 proof): {both:.1f} µs; one signature {signature:.1f} µs")
    text = f"DPoP: token and proof {both:.1f} µs ≤ two signature checks + 20 µs ({limit:.1f} µs)"
    return {"results": results, "target": (text, both <= limit)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (< 30 s)")
    parser.add_argument("--check", action="store_true", help="agreement only, no timing")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help='profile one implementation instead (say "accesstoken" or "PyJWT kid")',
    )
    parser.add_argument("--rounds", type=int, help="timing rounds (default 21 quick, 151 full)")
    parser.add_argument(
        "--algorithms", default=",".join(ALGORITHMS), help="comma-separated subset to run"
    )
    args = parser.parse_args(argv)
    algorithms = tuple(alg for alg in args.algorithms.split(",") if alg)
    if unknown := set(algorithms) - set(ALGORITHMS):
        parser.error(f"unknown algorithms: {sorted(unknown)}")
    rounds = args.rounds or (21 if args.quick else 151)
    batch_ns = 0.5e6 if args.quick else 2e6
    started = time.monotonic()
    if args.profile:
        for alg in algorithms:
            profile(alg, args.profile, 20_000)
        return 0
    report = run(algorithms, rounds=rounds, batch_ns=batch_ns, timing=not args.check)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(describe_machine())
    for line in report["problems"]:
        print(f"DISAGREEMENT {line}")
    if args.check:
        print(
            f"{len(algorithms)} algorithms × {len(FACTORIES) + 1} implementations: "
            f"{'all agree' if not report['problems'] else 'disagreement'} "
            f"({report['seconds']} s)"
        )
    else:
        print(f"\n{rounds} interleaved rounds, medians, µs per verification\n")
        print(table(report["results"]))
        report["targets"] = targets(report["results"])
        report["dpop"] = dpop_row(rounds, quick=args.quick)
        report["targets"].append(report["dpop"]["target"])
        for text, met in report["targets"]:
            print(f"[{'met' if met else 'MISSED'}] {text}")
        print(f"\n({report['seconds']} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
