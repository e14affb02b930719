"""`accesstoken.grpc` on real `grpc.server` and `grpc.aio.server`s on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import grpc
import grpc.aio
import pytest

from accesstoken import TokenVerifier, Verifier
from accesstoken.grpc import AccessTokenInterceptor, AsyncAccessTokenInterceptor, current_token

from ._support import AsyncOnly, Tokens, mint

SERVICE = "test.Orders"
OPTIONS: dict[str, Any] = {
    "scopes": {f"/{SERVICE}/Create": ("orders:write",)},
    "exclude": ("/grpc.health.v1.Health/",),
}


def _sub() -> bytes:
    return (current_token().subject or "").encode()


def _admin() -> bytes:
    current_token().require_roles("admin")
    return _sub()


def _health() -> bytes:
    with pytest.raises(LookupError):  # an excluded call has no token
        current_token()
    return b"ok"


def sync_handlers() -> list[grpc.GenericRpcHandler]:
    def listing(_request: bytes, _context: Any) -> Iterator[bytes]:
        yield _sub()
        yield _sub()

    def chat(requests: Iterator[bytes], _context: Any) -> Iterator[bytes]:
        for request in requests:
            yield request + b":" + _sub()

    methods = {
        "Get": grpc.unary_unary_rpc_method_handler(lambda _r, _c: _sub()),
        "Create": grpc.unary_unary_rpc_method_handler(lambda _r, _c: _sub()),
        "Admin": grpc.unary_unary_rpc_method_handler(lambda _r, _c: _admin()),
        "List": grpc.unary_stream_rpc_method_handler(listing),
        "Upload": grpc.stream_unary_rpc_method_handler(lambda rs, _c: b"".join(rs) + _sub()),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    }
    health = {"Check": grpc.unary_unary_rpc_method_handler(lambda _r, _c: _health())}
    return [
        grpc.method_handlers_generic_handler(SERVICE, methods),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", health),
    ]


def async_handlers() -> list[grpc.GenericRpcHandler]:
    async def get(_request: bytes, _context: Any) -> bytes:
        return _sub()

    async def admin(_request: bytes, _context: Any) -> bytes:
        return _admin()

    async def listing(_request: bytes, _context: Any) -> AsyncIterator[bytes]:
        yield _sub()
        yield _sub()

    async def upload(requests: AsyncIterator[bytes], _context: Any) -> bytes:
        return b"".join([request async for request in requests]) + _sub()

    async def chat(requests: AsyncIterator[bytes], _context: Any) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request + b":" + _sub()

    async def check(_request: bytes, _context: Any) -> bytes:
        return _health()

    methods = {
        "Get": grpc.unary_unary_rpc_method_handler(get),
        "Create": grpc.unary_unary_rpc_method_handler(get),
        "Admin": grpc.unary_unary_rpc_method_handler(admin),
        "List": grpc.unary_stream_rpc_method_handler(listing),
        "Upload": grpc.stream_unary_rpc_method_handler(upload),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    }
    health = {"Check": grpc.unary_unary_rpc_method_handler(check)}
    return [
        grpc.method_handlers_generic_handler(SERVICE, methods),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", health),
    ]


@contextmanager
def sync_server(verifier: Verifier) -> Iterator[grpc.Channel]:
    with ThreadPoolExecutor(4) as pool:
        server = grpc.server(pool, interceptors=[AccessTokenInterceptor(verifier, **OPTIONS)])
        server.add_generic_rpc_handlers(sync_handlers())
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield channel
        finally:
            server.stop(None).wait(10)


@contextmanager
def async_server(verifier: Verifier) -> Iterator[grpc.Channel]:
    """Run a `grpc.aio.server` on an event loop in a thread; call it through a sync channel."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(interceptors=[AsyncAccessTokenInterceptor(verifier, **OPTIONS)])
        server.add_generic_rpc_handlers(async_handlers())
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


Serve = Callable[[Verifier], AbstractContextManager[grpc.Channel]]


@pytest.fixture(params=["sync", "aio"])
def serve(request: pytest.FixtureRequest) -> Serve:
    return sync_server if request.param == "sync" else async_server


@pytest.fixture
def channel(serve: Serve, verifier: Verifier) -> Iterator[grpc.Channel]:
    with serve(verifier) as channel:
        yield channel


def metadata(token: str | None = None, value: str | None = None) -> tuple[tuple[str, str], ...]:
    value = value if value is not None else f"Bearer {token}"
    return (("authorization", value),)


def call(channel: grpc.Channel, method: str, *, md: Any = (), request: bytes = b"") -> Any:
    return channel.unary_unary(f"/{SERVICE}/{method}")(request, metadata=md, timeout=10)


def refused(channel: grpc.Channel, method: str, md: Any = ()) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(channel, method, md=md)
    return raised.value


def challenge(error: Any) -> str | None:
    return dict(error.trailing_metadata() or ()).get("www-authenticate")


def test_valid_token_reaches_a_unary_method(channel: grpc.Channel, tokens: Tokens) -> None:
    assert call(channel, "Get", md=metadata(tokens.reader)) == b"alice"


def test_every_kind_of_method_is_guarded_and_sees_the_token(
    channel: grpc.Channel, tokens: Tokens
) -> None:
    md = metadata(tokens.reader)
    listing = channel.unary_stream(f"/{SERVICE}/List")
    upload = channel.stream_unary(f"/{SERVICE}/Upload")
    chat = channel.stream_stream(f"/{SERVICE}/Chat")
    assert list(listing(b"", metadata=md, timeout=10)) == [b"alice", b"alice"]
    assert upload(iter([b"a", b"b"]), metadata=md, timeout=10) == b"abalice"
    assert list(chat(iter([b"1", b"2"]), metadata=md, timeout=10)) == [b"1:alice", b"2:alice"]
    expired = metadata(tokens.expired)
    calls = [
        lambda: list(listing(b"", metadata=expired, timeout=10)),
        lambda: upload(iter([b"a"]), metadata=expired, timeout=10),
        lambda: list(chat(iter([b"a"]), metadata=expired, timeout=10)),
    ]
    for refused_call in calls:
        with pytest.raises(grpc.RpcError) as raised:
            refused_call()
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_token_is_unauthenticated_with_the_bare_challenge(channel: grpc.Channel) -> None:
    error = refused(channel, "Get")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "An access token is required."
    assert challenge(error) == "Bearer"


@pytest.mark.parametrize("value", ["Bearer", "Bearer  abc", "Bearer a b", "Bearer a=b"])
def test_malformed_metadata_is_unauthenticated(channel: grpc.Channel, value: str) -> None:
    error = refused(channel, "Get", metadata(value=value))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert 'error="invalid_request"' in (challenge(error) or "")


@pytest.mark.parametrize("name", ["expired", "wrong_audience", "wrong_key", "tampered"])
def test_invalid_token_is_unauthenticated(channel: grpc.Channel, tokens: Tokens, name: str) -> None:
    error = refused(channel, "Get", metadata(getattr(tokens, name)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details().startswith("The access token")
    assert 'error="invalid_token"' in (challenge(error) or "")


def test_missing_scope_is_permission_denied_naming_it(
    channel: grpc.Channel, tokens: Tokens
) -> None:
    error = refused(channel, "Create", metadata(tokens.reader))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    found = challenge(error) or ""
    assert 'error="insufficient_scope"' in found
    assert 'scope="orders:write"' in found
    writer = metadata(mint(scope="orders:write"))
    assert call(channel, "Create", md=writer) == b"alice"


def test_roles_checked_in_the_handler_are_permission_denied(
    channel: grpc.Channel, tokens: Tokens
) -> None:
    error = refused(channel, "Admin", metadata(tokens.reader))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert 'error="insufficient_scope"' in (challenge(error) or "")
    assert call(channel, "Admin", md=metadata(tokens.admin)) == b"alice"


def test_excluded_methods_need_no_token(channel: grpc.Channel) -> None:
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    assert check(b"", timeout=10) == b"ok"


def test_key_source_down_is_unavailable_without_challenge(
    serve: Serve, down_verifier: Verifier, tokens: Tokens
) -> None:
    with serve(down_verifier) as channel:
        error = refused(channel, "Get", metadata(tokens.reader))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "The signing keys are unavailable right now."
    assert challenge(error) is None


def test_current_token_outside_a_call_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        current_token()


def test_exclude_must_not_be_a_string(verifier: Verifier) -> None:
    with pytest.raises(TypeError):
        AccessTokenInterceptor(verifier, exclude="/grpc.health.v1.Health/")


def test_the_aio_interceptor_never_calls_the_blocking_verify(
    verifier: TokenVerifier, tokens: Tokens
) -> None:
    async_only = AsyncOnly(verifier)
    with async_server(async_only) as channel:
        assert call(channel, "Get", md=metadata(tokens.reader)) == b"alice"
    assert async_only.calls == 1
