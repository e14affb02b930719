"""An introspection endpoint that misbehaves, and many callers asking about one token at once.

The endpoint here is a route table on the testing kit's real HTTP server, so each fault
crosses a socket: a 500, garbage, a huge body, a slow answer, a redirect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import pytest

from accesstoken import AccessToken, IntrospectionVerifier, KeySourceUnavailable
from accesstoken.testing._server import Request, Response, route, serve_in_thread

from .conftest import Verify

SECRET_MARKER = "do-not-leak-7f3a"
ACTIVE = {"active": True, "sub": "alice", "scope": "orders:read", "aud": "orders-api"}


class Endpoint:
    """An introspection endpoint whose answer a test sets; it records what it was sent."""

    def __init__(self) -> None:
        self.respond: Callable[[Request], Response] = lambda _: Response.json(ACTIVE)
        self.forms: list[dict[str, list[str]]] = []
        self.authorizations: list[str | None] = []
        self.delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.forms.append(parse_qs(request.body.decode()))
            self.authorizations.append(request.headers.get("Authorization"))
        if self.delay:
            time.sleep(self.delay)  # a slow server, not a clock
        return self.respond(request)

    @property
    def calls(self) -> int:
        return len(self.forms)


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    answer = Endpoint()
    with serve_in_thread(route({("POST", "/introspect"): answer})) as url:
        yield answer, f"{url}/introspect"


def make(url: str, **options: object) -> IntrospectionVerifier:
    arguments: dict[str, object] = {
        "client_id": "rs",
        "client_secret": "s3cret",
        "issuer": None,
        "audience": "orders-api",
        **options,
    }
    return IntrospectionVerifier(url, **arguments)  # type: ignore[arg-type]


def test_the_request_is_rfc_7662(endpoint: tuple[Endpoint, str], verify: Verify) -> None:
    answer, url = endpoint
    verify(make(url), "opaque-1")
    assert answer.forms == [{"token": ["opaque-1"], "token_type_hint": ["access_token"]}]
    assert answer.authorizations == ["Basic cnM6czNjcmV0"]  # rs:s3cret
    verify(make(url, token_type_hint=None), "opaque-2")
    assert answer.forms[1] == {"token": ["opaque-2"]}


@pytest.mark.parametrize(
    "response",
    [
        Response(500, SECRET_MARKER.encode()),
        Response(401, json.dumps({"error": SECRET_MARKER}).encode()),
        Response(200, f"<html>{SECRET_MARKER}</html>".encode()),
        Response(200, b'["not", "an", "object"]', {"Content-Type": "application/json"}),
        Response(200, b'{"active": true, "active": false}'),  # duplicate members
        Response(200, b'{"pad": "' + b"x" * 20_000 + b'"}'),  # over max_response_bytes
        Response(302, b"", {"Location": "/elsewhere"}),
    ],
    ids=["500", "401", "html", "array", "duplicates", "huge", "redirect"],
)
def test_a_bad_answer_is_503_and_its_content_goes_nowhere(
    endpoint: tuple[Endpoint, str],
    verify: Verify,
    response: Response,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer, url = endpoint
    answer.respond = lambda _: response
    with caplog.at_level(logging.DEBUG), pytest.raises(KeySourceUnavailable) as caught:
        verify(make(url, max_response_bytes=4096), "opaque-1")
    assert SECRET_MARKER not in caught.value.description
    assert SECRET_MARKER not in caplog.text
    assert "opaque-1" not in caplog.text


def test_the_answer_never_reaches_logs_or_descriptions_when_refused(
    endpoint: tuple[Endpoint, str], verify: Verify, caplog: pytest.LogCaptureFixture
) -> None:
    from accesstoken import InvalidAudience

    answer, url = endpoint
    answer.respond = lambda _: Response.json({**ACTIVE, "aud": SECRET_MARKER})
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidAudience) as caught:
        verify(make(url), "opaque-1")
    assert SECRET_MARKER not in caught.value.description
    assert SECRET_MARKER not in caught.value.www_authenticate()
    assert SECRET_MARKER not in caplog.text


def test_a_slow_endpoint_is_503_within_the_timeout(
    endpoint: tuple[Endpoint, str], verify: Verify
) -> None:
    answer, url = endpoint
    answer.delay = 2.0
    started = time.monotonic()
    with pytest.raises(KeySourceUnavailable):
        verify(make(url, timeout=0.3), "opaque-1")
    assert time.monotonic() - started < 1.5


def test_a_failure_is_not_cached(endpoint: tuple[Endpoint, str], verify: Verify) -> None:
    answer, url = endpoint
    verifier = make(url)
    answer.respond = lambda _: Response(500)
    with pytest.raises(KeySourceUnavailable):
        verify(verifier, "opaque-1")
    answer.respond = lambda _: Response.json(ACTIVE)
    assert verify(verifier, "opaque-1").subject == "alice"
    assert answer.calls == 2


# -- single flight ------------------------------------------------------------------------


def run_threads(verifier: IntrospectionVerifier, raw: str, n: int = 100) -> list[object]:
    """Verify `raw` from `n` threads released together; return each result or error."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = verifier.verify(raw)
        except Exception as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


async def run_tasks(verifier: IntrospectionVerifier, raw: str, n: int = 100) -> list[object]:
    return list(
        await asyncio.gather(
            *(verifier.verify_async(raw) for _ in range(n)), return_exceptions=True
        )
    )


@pytest.mark.parametrize("cache_ttl", [60, 0])
def test_100_threads_make_one_call(endpoint: tuple[Endpoint, str], cache_ttl: int) -> None:
    answer, url = endpoint
    answer.delay = 0.3  # every caller arrives while the call is under way
    results = run_threads(make(url, cache_ttl=cache_ttl), "new-token")
    assert answer.calls == 1
    assert all(isinstance(r, AccessToken) and r.subject == "alice" for r in results)


@pytest.mark.parametrize("cache_ttl", [60, 0])
def test_100_tasks_make_one_call(endpoint: tuple[Endpoint, str], cache_ttl: int) -> None:
    answer, url = endpoint
    answer.delay = 0.3
    results = asyncio.run(run_tasks(make(url, cache_ttl=cache_ttl), "new-token"))
    assert answer.calls == 1
    assert all(isinstance(r, AccessToken) and r.subject == "alice" for r in results)


def test_threads_and_tasks_together_make_one_call(endpoint: tuple[Endpoint, str]) -> None:
    answer, url = endpoint
    answer.delay = 0.5
    verifier = make(url, cache_ttl=0)
    from_threads: list[object] = []
    thread = threading.Thread(target=lambda: from_threads.extend(run_threads(verifier, "t", 50)))
    thread.start()
    time.sleep(0.1)  # let the threads start the call, then join it from a loop
    from_tasks = asyncio.run(run_tasks(verifier, "t", 50))
    thread.join()
    assert answer.calls == 1
    assert all(isinstance(r, AccessToken) for r in from_threads + from_tasks)


def test_one_failed_call_fails_every_waiter_and_the_next_call_asks_again(
    endpoint: tuple[Endpoint, str],
) -> None:
    answer, url = endpoint
    answer.delay = 0.3
    answer.respond = lambda _: Response(500)
    verifier = make(url)
    results = run_threads(verifier, "new-token", 20)
    assert answer.calls == 1
    assert all(isinstance(r, KeySourceUnavailable) for r in results)
    assert len({id(r) for r in results}) == 20  # a new error for each caller

    answer.delay = 0
    answer.respond = lambda _: Response.json(ACTIVE)
    assert verifier.verify("new-token").subject == "alice"
    assert answer.calls == 2


def test_different_tokens_do_not_wait_for_each_other(endpoint: tuple[Endpoint, str]) -> None:
    answer, url = endpoint
    verifier = make(url)

    async def scenario() -> list[object]:
        return list(await asyncio.gather(*(verifier.verify_async(f"token-{i}") for i in range(10))))

    assert len(asyncio.run(scenario())) == 10
    assert answer.calls == 10


def test_a_cancelled_caller_does_not_cancel_the_call_for_the_others(
    endpoint: tuple[Endpoint, str],
) -> None:
    answer, url = endpoint
    answer.delay = 0.3
    verifier = make(url)

    async def scenario() -> AccessToken:
        first = asyncio.create_task(verifier.verify_async("t"))
        await asyncio.sleep(0.05)  # the first caller owns the call
        second = asyncio.create_task(verifier.verify_async("t"))
        await asyncio.sleep(0.05)
        first.cancel()
        return await second

    assert asyncio.run(scenario()).subject == "alice"
    assert answer.calls == 1
