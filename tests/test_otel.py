"""`accesstoken.otel.instrument()` read back through the OpenTelemetry SDK's in-memory reader."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from accesstoken import JWKSEndpoint, KeySourceUnavailable, TokenExpired, otel
from accesstoken.testing import LocalIssuer


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = list(metric.data.data_points)
    return found


def by_outcome(data_points: list[Any]) -> dict[str, float]:
    return {point.attributes["outcome"]: point.value for point in data_points}


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


def test_tokens_are_counted_by_outcome_and_timed(reader: InMemoryMetricReader) -> None:
    issuer = LocalIssuer()
    verifier = issuer.verifier()
    with otel.instrument(MeterProvider(metric_readers=[reader])):
        verifier.verify(issuer.issue())
        verifier.verify(issuer.issue())
        with pytest.raises(TokenExpired):
            verifier.verify(issuer.issue(expires_in=-300))
    found = points(reader)
    assert by_outcome(found["accesstoken.tokens"]) == {"accepted": 2, "TokenExpired": 1}
    durations = {
        p.attributes["outcome"]: p.count for p in found["accesstoken.verification.duration"]
    }
    assert durations == {"accepted": 2, "TokenExpired": 1}


def test_key_fetches_and_stale_keys_are_counted(reader: InMemoryMetricReader) -> None:
    issuer = LocalIssuer()
    now = [0.0]
    with issuer.serve() as url, otel.instrument(MeterProvider(metric_readers=[reader])):
        source = JWKSEndpoint(
            f"{url}/jwks.json", cache_ttl=60, refresh_jitter=0, clock=lambda: now[0]
        )
        source.key_set()
        now[0] = 100
        with issuer.outage():
            source.key_set()  # the refresh fails; the stale set serves
            now[0] = 200
            source.key_set()  # again: cooldown passed, fails again, stale again
    found = points(reader)
    assert by_outcome(found["accesstoken.key_fetches"]) == {"ok": 1, "failed": 2}
    assert sum(p.value for p in found["accesstoken.stale_keys_served"]) == 2


def test_a_closed_subscription_stops_recording(reader: InMemoryMetricReader) -> None:
    issuer = LocalIssuer()
    with issuer.serve() as url:
        subscription = otel.instrument(MeterProvider(metric_readers=[reader]))
        subscription.close()
        with issuer.outage(), pytest.raises(KeySourceUnavailable):
            JWKSEndpoint(f"{url}/jwks.json").key_set()
    assert "accesstoken.key_fetches" not in points(reader)
