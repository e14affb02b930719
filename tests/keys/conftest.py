"""Fixtures for the remote key sources: a live local server, published keys, a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from accesstoken import KeySet, KeySource

from ._server import Server, serve


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


@pytest.fixture(scope="session")
def rsa_jwk() -> dict[str, Any]:
    key = RSAKey.generate_key(2048)
    return {**key.as_dict(private=False), "kid": "rsa-1", "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="session")
def ec_jwk() -> dict[str, Any]:
    return {**ECKey.generate_key("P-256").as_dict(private=False), "kid": "ec-1"}


@pytest.fixture(scope="session")
def ec_jwk_2() -> dict[str, Any]:
    return {**ECKey.generate_key("P-256").as_dict(private=False), "kid": "ec-2"}


class Caller:
    """Calls a key source the sync or the async way (a fresh event loop per async call)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def key_set(self, source: KeySource) -> KeySet:
        if self.mode == "sync":
            return source.key_set()
        return asyncio.run(source.key_set_async())

    def refresh(self, source: KeySource) -> KeySet | None:
        if self.mode == "sync":
            return source.refresh()
        return asyncio.run(source.refresh_async())

    def call(self, sync: Callable[[], Any], coroutine: Callable[[], Any]) -> Any:
        return sync() if self.mode == "sync" else asyncio.run(coroutine())


@pytest.fixture(params=["sync", "async"])
def caller(request: pytest.FixtureRequest) -> Caller:
    return Caller(request.param)


def kids(key_set: KeySet) -> set[str | None]:
    return {key.kid for key in key_set.keys}
