"""The DPoP step as a flow, as the verifiers run it: `binding_checks`, then the proof recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accesstoken import DPoP, RequestContext
from accesstoken._dpop import binding_checks, record_proof
from accesstoken._remote.flow import Flow


def check_binding(
    claims: Mapping[str, Any],
    raw_token: str,
    scheme: str | None,
    request: RequestContext | None,
    dpop: DPoP | None,
    now: float,
) -> Flow[None]:
    """Check the binding of a verified token, then record its proof in the replay cache."""
    replay_key = binding_checks(claims, raw_token, scheme, request, dpop, now)
    if dpop is not None and replay_key is not None:
        yield from record_proof(dpop, replay_key)
