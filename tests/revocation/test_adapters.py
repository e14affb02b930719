"""A token revoked while in use is refused with 401 `TokenRevoked` by every adapter.

Each adapter is run against both denylists; the Redis one also shows that an unreachable
store answers 503 without blaming the token.
"""

# No "from __future__ import annotations": FastAPI reads the endpoint's annotations at runtime.

from collections.abc import Iterator

import pytest
import redis

from accesstoken import HMACSecret, TokenRevoked, TokenVerifier
from accesstoken.revocation import MemoryDenylist, RedisDenylist
from tests.adapters._support import (
    AUDIENCE,
    ISSUER,
    SECRET,
    assert_refused,
    assert_unavailable,
    bearer,
    mint,
)
from tests.adapters._whoami import CLIENTS

from .conftest import RedisServer

Denylist = MemoryDenylist | RedisDenylist


@pytest.fixture(params=sorted(CLIENTS))
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["memory", "redis"])
def denylist(
    request: pytest.FixtureRequest, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[Denylist]:
    if request.param == "memory":
        yield MemoryDenylist()
        return
    # The async client connects lazily, in the event loop of the test client that uses it.
    async_client = redis_server.async_client()
    yield RedisDenylist(redis_server.client(), async_client=async_client)


def verifier_with(deny: Denylist) -> TokenVerifier:
    return TokenVerifier(HMACSecret(SECRET), issuer=ISSUER, audience=AUDIENCE, revocation=deny)


def test_revoked_mid_session_is_401_token_revoked(adapter: str, denylist: Denylist) -> None:
    verifier = verifier_with(denylist)
    raw, other = mint(jti="session-1"), mint(jti="session-2")
    with CLIENTS[adapter](verifier) as client:
        assert client.get("/whoami", headers=bearer(raw)).status_code == 200

        denylist.revoke(verifier.verify(raw))

        body = assert_refused(client.get("/whoami", headers=bearer(raw)), 401, "invalid_token")
        assert body["error_description"] == TokenRevoked.default_description
        assert client.get("/whoami", headers=bearer(other)).status_code == 200


def test_log_out_everywhere_is_401_for_every_earlier_token(
    adapter: str, denylist: Denylist
) -> None:
    verifier = verifier_with(denylist)
    first, second = mint(jti="s1", sub="bob"), mint(jti="s2", sub="bob", iat=0)
    with CLIENTS[adapter](verifier) as client:
        denylist.revoke_subject("bob")
        assert_refused(client.get("/whoami", headers=bearer(first)), 401, "invalid_token")
        assert_refused(client.get("/whoami", headers=bearer(second)), 401, "invalid_token")
        assert client.get("/whoami", headers=bearer(mint(sub="carol"))).status_code == 200


def test_redis_down_is_503_and_back_is_200(
    adapter: str, redis_outage: RedisServer, redis_client: redis.Redis
) -> None:
    deny = RedisDenylist(redis_outage.client(), async_client=redis_outage.async_client())
    raw = mint()
    with CLIENTS[adapter](verifier_with(deny)) as client:
        redis_outage.stop()
        assert_unavailable(client.get("/whoami", headers=bearer(raw)))
        redis_outage.start()
        assert client.get("/whoami", headers=bearer(raw)).status_code == 200
