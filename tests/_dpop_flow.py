"""The DPoP step as a flow, as the verifiers run it: `binding_checks`, then the proof recorded."""

from __future__ import annotations

from typing import Any

from accesstoken._dpop import binding_checks, record_proof
from accesstoken._remote.flow import Flow


def check_binding(*arguments: Any) -> Flow[None]:
    """Run `binding_checks(*arguments)`, then record the proof it checked in the replay cache
    of its `dpop` (the fifth argument), as a verifier does."""
    replay_key = binding_checks(*arguments)
    if replay_key is not None:
        yield from record_proof(arguments[4], replay_key)
