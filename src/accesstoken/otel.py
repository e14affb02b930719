"""OpenTelemetry metrics of every verifier and key source, through `opentelemetry-api`.

```python
from accesstoken import otel

subscription = otel.instrument()       # the global MeterProvider; or instrument(provider)
...
subscription.close()                   # stops recording
```

Instruments (the meter is named `accesstoken`):

| instrument | kind | attributes |
|---|---|---|
| `accesstoken.tokens` | counter | `outcome`: `"accepted"` or the error class (`"TokenExpired"`) |
| `accesstoken.verification.duration` | histogram, seconds | `outcome` |
| `accesstoken.key_fetches` | counter | `outcome`: `"ok"` or `"failed"` |
| `accesstoken.stale_keys_served` | counter | (none) |
| `accesstoken.introspection.calls` | counter | `outcome`: `"active"`, `"inactive"` or `"failed"` |

Only the API package is imported (extra `accesstoken[otel]`); the SDK, exporters and views
are the application's choice. Recording is one call per event, from the events of
`accesstoken.events`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .events import (
    Event,
    IntrospectionCalled,
    KeysFetched,
    KeysFetchFailed,
    StaleKeysServed,
    Subscription,
    TokenAccepted,
    TokenRejected,
    subscribe,
)

try:
    from opentelemetry import metrics
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accesstoken.otel needs opentelemetry-api: pip install 'accesstoken[otel]'"
    ) from exc

__all__ = ["instrument"]

_ACCEPTED = {"outcome": "accepted"}
_OK = {"outcome": "ok"}
_FAILED = {"outcome": "failed"}


def _version() -> str:
    try:
        return version("accesstoken")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def instrument(meter_provider: metrics.MeterProvider | None = None) -> Subscription:
    """Record the metrics above until the returned subscription is closed.

    Args:
        meter_provider: where to record; None uses the global provider
            (`opentelemetry.metrics.set_meter_provider`).
    """
    meter = metrics.get_meter("accesstoken", _version(), meter_provider)
    tokens = meter.create_counter(
        "accesstoken.tokens", unit="{token}", description="Tokens verified, by outcome."
    )
    duration = meter.create_histogram(
        "accesstoken.verification.duration",
        unit="s",
        description="How long a verification took, by outcome.",
    )
    fetches = meter.create_counter(
        "accesstoken.key_fetches",
        unit="{fetch}",
        description="JWK Set and discovery document fetches, by outcome.",
    )
    stale = meter.create_counter(
        "accesstoken.stale_keys_served",
        unit="{verification}",
        description="Times an expired key set was served because its refresh failed.",
    )
    introspections = meter.create_counter(
        "accesstoken.introspection.calls",
        unit="{call}",
        description="Introspection calls, by outcome.",
    )

    def record(event: Event) -> None:
        if isinstance(event, TokenAccepted):
            tokens.add(1, _ACCEPTED)
            duration.record(event.duration, _ACCEPTED)
        elif isinstance(event, TokenRejected):
            outcome = {"outcome": type(event.error).__name__}
            tokens.add(1, outcome)
            duration.record(event.duration, outcome)
        elif isinstance(event, KeysFetched):
            fetches.add(1, _OK)
        elif isinstance(event, KeysFetchFailed):
            fetches.add(1, _FAILED)
        elif isinstance(event, StaleKeysServed):
            stale.add(1)
        elif isinstance(event, IntrospectionCalled):
            state = "failed" if event.active is None else "active" if event.active else "inactive"
            introspections.add(1, {"outcome": state})

    return subscribe(record)
