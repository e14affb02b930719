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

#: The counters: name (after "accesstoken."), unit, description.
_COUNTERS = (
    ("tokens", "{token}", "Tokens verified, by outcome."),
    ("key_fetches", "{fetch}", "JWK Set and discovery document fetches, by outcome."),
    ("stale_keys_served", "{verification}", "Expired key sets served after a failed refresh."),
    ("introspection.calls", "{call}", "Introspection calls, by outcome."),
)
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
    counters = {
        name: meter.create_counter(f"accesstoken.{name}", unit=unit, description=description)
        for name, unit, description in _COUNTERS
    }
    tokens, fetches = counters["tokens"], counters["key_fetches"]
    stale, introspections = counters["stale_keys_served"], counters["introspection.calls"]
    duration = meter.create_histogram(
        "accesstoken.verification.duration",
        unit="s",
        description="How long a verification took, by outcome.",
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
