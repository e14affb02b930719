"""What checking a DPoP proof costs, next to the signature check that dominates it.

    python benchmarks/dpop.py            # a few seconds per case
    python benchmarks/dpop.py --quick    # a few seconds in all
    python benchmarks/dpop.py --json out.json

For one ES256 access token bound to an ES256 client key, timed in one process, interleaved
(every case once per round, many short rounds, the garbage collector off inside a round,
medians over rounds):

- token: `TokenVerifier.verify()` of a bearer access token (static keys), for scale;
- verify token and proof: `TokenVerifier(dpop=DPoP()).verify("DPoP ...", request=...)`, a
  fresh proof each call: judged against two signature checks plus 20 µs;
- floor: a minimal hand-written check of token and proof, what any correct implementation
  at least does: split, base64url and `json.loads` both; verify both signatures; `exp`,
  `iss`, `aud`; the proof's key found by its header (remembered), `htm`, `htu` (plain
  equality), `iat`, `ath` (remembered per token) and `jti` against a set. It skips most
  of RFC 9449 §4.3 and every strictness rule (duplicate members, URL normalization...);
- proof signature: the ES256 check of one proof's signature alone, the floor of one check;
- jwk import: importing the proof's `jwk` header (`VerificationKey.from_jwk`);
- DPoP step: `binding_checks` and the replay cache, what a verifier runs after the token's
  own checks, a fresh proof each call (its own `jti`), recorded in
  the default `MemoryReplayCache`; the client's proof header (and key) is remembered after
  its first proof, as it is for a client that sends many requests;
- DPoP step, new key: the same with that memo emptied before each call, as for the
  first proof of each client.

Every proof is checked to pass once and to be refused the second time before anything is
timed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
from collections.abc import Callable

from _common import publish, ratio_report, timings
from accesstoken import DPoP, InvalidDPoPProof, RequestContext
from accesstoken._algorithms import ALGORITHMS
from accesstoken._dpop import DPOP, binding_checks, jwk_thumbprint
from accesstoken._keys.base import VerificationKey
from accesstoken._pipeline import _b64decode, split
from accesstoken.testing import DPoPKey, LocalIssuer

URL = "https://api.example.com/orders"
ISSUER, AUDIENCE, LEEWAY = "https://issuer.test/", "orders-api", 60


def make_floor(token_key: object, proof_keys: dict[str, tuple[object, str]]) -> Callable:  # type: ignore[type-arg]
    """Return the least a correct check of a DPoP-bound token and its proof does."""
    es256 = ALGORITHMS["ES256"].verify
    seen: set[str] = set()
    hashes: dict[str, str] = {}

    def b64(segment: str) -> bytes:
        return _b64decode(segment.encode())

    def verify(raw: str, request: RequestContext) -> object:
        header_segment, payload_segment, signature_segment = raw.split(".")
        if json.loads(b64(header_segment))["alg"] != "ES256":
            raise ValueError("algorithm")
        signing_input = f"{header_segment}.{payload_segment}".encode()
        if not es256(token_key, signing_input, b64(signature_segment)):
            raise ValueError("signature")
        claims = json.loads(b64(payload_segment))
        now = time.time()
        if now >= claims["exp"] + LEEWAY or claims["iss"] != ISSUER or claims["aud"] != AUDIENCE:
            raise ValueError("claims")
        assert request.dpop_proof is not None
        header_segment, payload_segment, signature_segment = request.dpop_proof.split(".")
        key, thumbprint = proof_keys[header_segment]
        if thumbprint != claims["cnf"]["jkt"]:
            raise ValueError("other key")
        signing_input = f"{header_segment}.{payload_segment}".encode()
        if not es256(key, signing_input, b64(signature_segment)):
            raise ValueError("proof signature")
        proof = json.loads(b64(payload_segment))
        if proof["htm"] != request.method or proof["htu"] != request.url:
            raise ValueError("request")
        if not now - 300 <= proof["iat"] <= now + 5:
            raise ValueError("iat")
        ath = hashes.get(raw)
        if ath is None:
            digest = hashlib.sha256(raw.encode()).digest()
            ath = hashes[raw] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if proof["ath"] != ath or proof["jti"] in seen:
            raise ValueError("ath or replay")
        seen.add(proof["jti"])
        return claims

    return verify


def build_cases(proofs: int) -> dict[str, Callable[[], object]]:
    """Return the timed calls; `proofs` fresh proofs are made for each case that takes them."""
    issuer, key = LocalIssuer("ES256", issuer=ISSUER, audience=AUDIENCE), DPoPKey("ES256")
    raw = issuer.issue(dpop_key=key)
    bearer = issuer.issue()
    verifier = issuer.verifier()
    now = time.time()
    requests = iter(
        [
            RequestContext("POST", URL, key.proof("POST", URL, raw, iat=now))
            for _ in range(4 * proofs)
        ]
    )
    dpop = DPoP()
    bound = issuer.verifier(dpop=DPoP())
    claims = bound.verify(f"DPoP {raw}", request=next(requests)).claims

    def step(request: RequestContext) -> None:
        """The DPoP step as `TokenVerifier` runs it: every check, then the replay cache."""
        replay_key = binding_checks(claims, raw, DPOP, request, dpop, now)
        assert replay_key is not None
        dpop._record(replay_key)

    def new_key() -> None:
        dpop._headers.clear()
        step(next(requests))

    sample = next(requests)
    step(sample)
    try:
        step(sample)
    except InvalidDPoPProof:
        pass
    else:
        sys.exit("a replayed proof was accepted: nothing would be measured")

    assert sample.dpop_proof is not None
    parts = split(sample.dpop_proof)
    signature = _b64decode(parts.signature_segment)
    jwk = key.jwk
    public = VerificationKey.from_jwk(jwk, allow_secret=False)
    es256 = ALGORITHMS["ES256"].verify
    if not es256(public.key, parts.signing_input, signature):
        sys.exit("the proof's signature does not verify")
    kid = verifier._header(split(raw).header_segment).kid
    token_key = verifier._keys.key_set_nowait().select(kid, "ES256")  # type: ignore[union-attr]
    assert token_key is not None
    header_segment = sample.dpop_proof.split(".")[0]
    floor = make_floor(token_key.key, {header_segment: (public.key, jwk_thumbprint(jwk))})
    floor(raw, sample)
    try:
        floor(raw, sample)
    except ValueError:
        pass
    else:
        sys.exit("the floor accepted a replayed proof: nothing would be measured")
    return {
        "token verify (ES256)": lambda: verifier.verify(bearer),
        "verify token and proof": lambda: bound.verify(f"DPoP {raw}", request=next(requests)),
        "floor: token and proof": lambda: floor(raw, next(requests)),
        "proof signature (ES256)": lambda: es256(public.key, parts.signing_input, signature),
        "jwk import": lambda: VerificationKey.from_jwk(jwk, allow_secret=False),
        "DPoP step": lambda: step(next(requests)),
        "DPoP step, new key": new_key,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    options = parser.parse_args()
    rounds, calls = (10, 50) if options.quick else (40, 200)
    started = time.perf_counter()
    data = timings(build_cases(rounds * calls + 1), rounds, calls, started)
    report = ratio_report(data, "proof signature (ES256)", "vs signature")
    results = data["results"]
    both, signature = results["verify token and proof"], results["proof signature (ES256)"]
    limit = 2 * signature + 20
    verdict = "met" if both <= limit else "MISSED"
    floor = results["floor: token and proof"]
    report += (
        f"\n\n[{verdict}] token and proof {both:.1f} µs <= two ES256 signature checks + 20 µs"
        f" ({limit:.1f} µs)"
        f"\nbeyond the two signature checks: accesstoken {both - 2 * signature:.1f} µs,"
        f" the minimal hand-written floor {floor - 2 * signature:.1f} µs"
    )
    publish(data, report, options.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
