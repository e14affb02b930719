"""`ForwardToken` passes the caller's token on to the next service, and nowhere else."""

from __future__ import annotations

import httpx
import pytest

from accesstoken import TokenVerifier
from accesstoken.forwarding import ForwardToken

from ._support import Tokens


def recording_client(seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"Location": "https://elsewhere.test/landing"})
        return httpx.Response(200)

    return httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)


def test_forwards_a_verified_token(verifier: TokenVerifier, tokens: Tokens) -> None:
    token = verifier.verify(tokens.reader)
    seen: list[httpx.Request] = []
    recording_client(seen).get("https://orders.internal/orders", auth=ForwardToken(token))
    assert seen[0].headers["Authorization"] == f"Bearer {tokens.reader}"


async def forward_async(raw: str) -> httpx.Request:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await client.get("https://orders.internal/orders", auth=ForwardToken(raw))
    return seen[0]


@pytest.mark.anyio
async def test_forwards_a_raw_token_with_an_async_client(tokens: Tokens) -> None:
    request = await forward_async(tokens.reader)
    assert request.headers["Authorization"] == f"Bearer {tokens.reader}"


def test_token_is_not_sent_on_a_redirect_to_another_host(tokens: Tokens) -> None:
    seen: list[httpx.Request] = []
    recording_client(seen).get("https://orders.internal/moved", auth=ForwardToken(tokens.reader))
    assert [r.url.host for r in seen] == ["orders.internal", "elsewhere.test"]
    assert "Authorization" not in seen[1].headers


@pytest.mark.parametrize("raw", ["", "a b", "abc\r\nX-Injected: 1", "Bearer abc"])
def test_refuses_what_is_not_a_bearer_token(raw: str) -> None:
    with pytest.raises(ValueError, match="bearer token"):
        ForwardToken(raw)


def test_repr_hides_the_token(tokens: Tokens) -> None:
    assert tokens.reader not in repr(ForwardToken(tokens.reader))
