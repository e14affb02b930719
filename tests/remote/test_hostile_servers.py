"""Every remote call against servers that trickle, stall, compress or redirect.

JWK Sets, discovery documents and introspection answers share one fetch engine, so each
fault is tried on all three kinds, sync and async, over a real socket: a caller never
waits past `timeout` (plus a little scheduling), a compressed answer is refused without
being inflated, and a redirect never leaves the origin.
"""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import brotli
import pytest

from accesstoken import IntrospectionVerifier, JWKSEndpoint, KeySourceUnavailable, OIDCDiscovery

from ._hostile import (
    Behaviour,
    compressed,
    hostile,
    json_answer,
    redirect,
    silent,
    trickle_body,
    trickle_head,
)

TIMEOUT = 1.0
SLACK = 0.5  # thread and event-loop scheduling on a busy machine

Sync = Callable[[], Any]
Async = Callable[[], Awaitable[Any]]


def jwks(url: str) -> tuple[Sync, Async]:
    source = JWKSEndpoint(url + "/jwks", timeout=TIMEOUT)
    return source.key_set, source.key_set_async


def discovery(url: str) -> tuple[Sync, Async]:
    source = OIDCDiscovery(url, timeout=TIMEOUT)
    return source.key_set, source.key_set_async


def introspection(url: str) -> tuple[Sync, Async]:
    verifier = IntrospectionVerifier(
        url + "/introspect",
        client_id="rs",
        client_secret="secret",
        issuer=None,
        audience=None,
        timeout=TIMEOUT,
    )
    return (lambda: verifier.verify("opaque-token")), (
        lambda: verifier.verify_async("opaque-token")
    )


KINDS = {"jwks": jwks, "discovery": discovery, "introspection": introspection}


def call(kind: str, url: str, mode: str) -> None:
    sync, async_ = KINDS[kind](url)
    if mode == "sync":
        sync()
    else:
        asyncio.run(async_())


def timed_failure(kind: str, url: str, mode: str) -> float:
    started = time.monotonic()
    with pytest.raises(KeySourceUnavailable):
        call(kind, url, mode)
    return time.monotonic() - started


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "behaviour",
    [trickle_head(), trickle_body(), silent],
    ids=["trickled-head", "trickled-body", "never-answers"],
)
def test_a_slow_server_is_cut_off_at_the_timeout(
    behaviour: Behaviour, kind: str, mode: str
) -> None:
    with hostile(behaviour) as server:
        assert timed_failure(kind, server.url, mode) < TIMEOUT + SLACK
        assert server.count == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_hundred_threads_make_one_request_and_none_waits_past_the_timeout(kind: str) -> None:
    with hostile(trickle_head()) as server:
        sync, _ = KINDS[kind](server.url)
        waits: list[float] = []
        failures: list[BaseException] = []
        gate = threading.Barrier(100)

        def caller() -> None:
            gate.wait()
            started = time.monotonic()
            try:
                sync()
            except KeySourceUnavailable as exc:
                failures.append(exc)
            waits.append(time.monotonic() - started)

        threads = [threading.Thread(target=caller) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert len(failures) == 100
        assert max(waits) < TIMEOUT + SLACK
        assert server.count == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_hundred_tasks_make_one_request_and_none_waits_past_the_timeout(kind: str) -> None:
    with hostile(trickle_head()) as server:
        _, async_ = KINDS[kind](server.url)

        async def caller() -> float:
            started = time.monotonic()
            with pytest.raises(KeySourceUnavailable):
                await async_()
            return time.monotonic() - started

        async def main() -> list[float]:
            return await asyncio.gather(*(caller() for _ in range(100)))

        assert max(asyncio.run(main())) < TIMEOUT + SLACK
        assert server.count == 1


def test_a_worker_left_on_a_trickling_server_is_cut_loose() -> None:
    """The sync caller gives up at the deadline; its fetch thread must not linger on."""
    with hostile(trickle_head(pause=0.2)) as server:
        timed_failure("jwks", server.url, "sync")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and _fetch_threads():
            time.sleep(0.02)
        assert _fetch_threads() == []
        assert not server.stopping.is_set()  # the server would still be trickling


def _fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "accesstoken-fetch" and t.is_alive()]


# -- compression bombs ------------------------------------------------------------------------

INFLATED = 64 * 1024 * 1024  # what each bomb inflates to: 64 times max_response_bytes


def _compress(wbits: int, chunks: Any) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()


def _spaces() -> Any:
    yield b'{"keys": ['
    for _ in range(INFLATED // (1 << 20)):
        yield b" " * (1 << 20)
    yield b"]}"


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    gzip_once = _compress(31, _spaces())
    return {
        "gzip": gzip_once,
        "gzip, gzip": _compress(31, [gzip_once]),
        "deflate": _compress(15, _spaces()),
        "br": brotli.compress(b"".join(_spaces()), quality=5),
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip", "deflate", "br"])
def test_a_compressed_answer_is_refused_without_inflating_it(
    bombs: dict[str, bytes], encoding: str, kind: str, mode: str
) -> None:
    assert len(bombs[encoding]) < 1_048_576  # small on the wire, within max_response_bytes
    with hostile(compressed(encoding, bombs[encoding])) as server:
        tracemalloc.start()
        try:
            elapsed = timed_failure(kind, server.url, mode)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert elapsed < TIMEOUT
        assert peak < 4 * 1024 * 1024
        # Discovery tries its next candidate URL (RFC 8414's form) within the same deadline.
        assert server.count == (2 if kind == "discovery" else 1)


# -- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", ["jwks", "discovery"])
def test_a_redirect_to_another_port_of_the_same_host_is_refused(kind: str, mode: str) -> None:
    keys = b'{"keys": [], "issuer": "x", "jwks_uri": "http://127.0.0.1/"}'
    with hostile(json_answer(keys)) as other, hostile(redirect(other.url + "/jwks")) as server:
        with pytest.raises(KeySourceUnavailable, match="another origin"):
            call(kind, server.url, mode)
        assert server.count >= 1
        assert other.count == 0
