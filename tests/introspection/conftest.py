"""A served `LocalIssuer` with a registered client, and both verify paths."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterator
from typing import Any

import pytest

from accesstoken import AccessToken
from accesstoken.testing import LocalIssuer

CLIENT_ID = "orders-api"
CLIENT_SECRET = "introspection-secret"


class Served:
    """A `LocalIssuer` while it serves: its URL, and verifiers authenticated as our client."""

    def __init__(self, issuer: LocalIssuer, url: str) -> None:
        self.issuer = issuer
        self.url = url

    def verifier(self, **options: Any) -> Any:
        return self.issuer.introspection_verifier(CLIENT_ID, CLIENT_SECRET, **options)

    @property
    def calls(self) -> int:
        return self.issuer.requests["/introspect"]


@pytest.fixture
def idp() -> Iterator[Served]:
    issuer = LocalIssuer("ES256", audience="orders-api")
    issuer.add_client(CLIENT_ID, CLIENT_SECRET)
    with issuer.serve() as url:
        yield Served(issuer, url)


class Verify:
    """`verify()` or `verify_async()` of any verifier, chosen by the fixture's parameter."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, verifier: Any, raw: str, scopes: Collection[str] = ()) -> AccessToken:
        if self.path == "sync":
            token: AccessToken = verifier.verify(raw, scopes=scopes)
            return token
        return asyncio.run(verifier.verify_async(raw, scopes=scopes))  # type: ignore[no-any-return]


@pytest.fixture(params=["sync", "async"])
def verify(request: pytest.FixtureRequest) -> Verify:
    return Verify(request.param)
