"""Events and logs of verifiers and key sources, against real servers on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from accesstoken import (
    IntrospectionVerifier,
    JWKSEndpoint,
    KeySourceUnavailable,
    OIDCDiscovery,
    TokenInactive,
    events,
)
from accesstoken.testing import LocalIssuer

from .remote._hostile import hostile, silent


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seen() -> Iterator[list[events.Event]]:
    received: list[events.Event] = []
    with events.subscribe(received.append):
        yield received


def test_a_discovery_and_a_key_set_fetched_are_two_events_and_two_info_lines(
    seen: list[events.Event], caplog: pytest.LogCaptureFixture
) -> None:
    issuer = LocalIssuer()
    caplog.set_level(logging.INFO, logger="accesstoken")
    with issuer.serve() as url:
        source = OIDCDiscovery(url)
        source.key_set()
    fetched = [event for event in seen if isinstance(event, events.KeysFetched)]
    assert [(event.url, event.keys) for event in fetched] == [
        (f"{url}/.well-known/openid-configuration", 0),
        (f"{url}/jwks.json", 1),
    ]
    assert all(event.source is source and event.duration >= 0 for event in fetched)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert f"fetched {url}/jwks.json: 1 keys" in infos


def test_a_failed_fetch_is_an_event_with_a_fixed_reason(seen: list[events.Event]) -> None:
    issuer = LocalIssuer()
    with issuer.serve() as url, issuer.outage():
        source = JWKSEndpoint(f"{url}/jwks.json")
        with pytest.raises(KeySourceUnavailable):
            source.key_set()
    (failed,) = [event for event in seen if isinstance(event, events.KeysFetchFailed)]
    assert failed.source is source
    assert failed.url == f"{url}/jwks.json"
    assert failed.reason == "The authorization server answered with an error status."


def test_stale_keys_served_during_an_outage_say_how_old_they_are(
    seen: list[events.Event],
) -> None:
    issuer = LocalIssuer()
    clock = FakeClock()
    with issuer.serve() as url:
        source = JWKSEndpoint(f"{url}/jwks.json", cache_ttl=60, refresh_jitter=0, clock=clock)
        source.key_set()
        clock.now += 75
        with issuer.outage():
            assert len(source.key_set()) == 1  # the last good set keeps serving
    (stale,) = [event for event in seen if isinstance(event, events.StaleKeysServed)]
    assert stale.source is source
    assert stale.age == pytest.approx(15)
    assert any(isinstance(event, events.KeysFetchFailed) for event in seen)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_introspection_calls_are_events_without_the_answer_or_the_secret(
    seen: list[events.Event], mode: str
) -> None:
    import asyncio

    issuer = LocalIssuer(audience="api")
    issuer.add_client("rs", "s3cret-do-not-leak")
    with issuer.serve() as url:
        verifier = issuer.introspection_verifier("rs", "s3cret-do-not-leak")
        good, gone = issuer.issue_opaque(marker="p4yload-do-not-leak"), issuer.issue_opaque()
        issuer.revoke_opaque(gone)
        if mode == "sync":
            verifier.verify(good)
            with pytest.raises(TokenInactive):
                verifier.verify(gone)
        else:
            asyncio.run(verifier.verify_async(good))
            with pytest.raises(TokenInactive):
                asyncio.run(verifier.verify_async(gone))
    calls = [event for event in seen if isinstance(event, events.IntrospectionCalled)]
    assert [(event.url, event.active) for event in calls] == [
        (f"{url}/introspect", True),
        (f"{url}/introspect", False),
    ]
    assert all(event.source is verifier for event in calls)
    text = " ".join(map(repr, seen)) + " ".join(map(str, seen))
    for secret in ("s3cret-do-not-leak", "p4yload-do-not-leak", good, gone):
        assert secret not in text


def test_a_failed_introspection_call_has_no_answer(seen: list[events.Event]) -> None:
    with hostile(silent) as server:
        verifier = IntrospectionVerifier(
            f"{server.url}/introspect",
            client_id="rs",
            client_secret="s",
            issuer=None,
            audience=None,
            timeout=0.5,
        )
        with pytest.raises(KeySourceUnavailable):
            verifier.verify("opaque")
    (call,) = [event for event in seen if isinstance(event, events.IntrospectionCalled)]
    assert call.active is None


def test_a_raising_listener_is_logged_once_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: events.Event) -> None:
        raise RuntimeError("listener bug")

    issuer = LocalIssuer()
    with issuer.serve() as url, events.subscribe(broken):
        source = OIDCDiscovery(url)
        assert len(source.key_set()) == 1  # two events, both raised in the listener
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "listener" in warnings[0].getMessage()


def test_a_closed_subscription_receives_nothing() -> None:
    received: list[events.Event] = []
    subscription = events.subscribe(received.append)
    subscription.close()
    subscription.close()  # twice is fine
    issuer = LocalIssuer()
    with issuer.serve() as url:
        OIDCDiscovery(url).key_set()
    assert received == []
    assert not events.hub.active


def test_a_listener_must_be_callable() -> None:
    with pytest.raises(TypeError):
        events.subscribe("not a function")  # type: ignore[arg-type]
