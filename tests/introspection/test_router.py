"""`TokenRouter`: JWS-shaped tokens to the JWT verifier, the rest to introspection; and the
adapters, which accept any `Verifier`, serving both kinds of token."""

# No "from __future__ import annotations": FastAPI reads the endpoint's annotations at runtime.

from collections.abc import Collection

import pytest

from accesstoken import (
    AccessToken,
    InvalidSignature,
    MalformedToken,
    TokenInactive,
    TokenRouter,
    Verifier,
)
from accesstoken._router import looks_like_jwt
from tests.adapters._support import assert_refused, assert_unavailable, bearer
from tests.adapters._whoami import CLIENTS

from .conftest import Served, Verify


def router(idp: Served) -> TokenRouter:
    return TokenRouter(jwt=idp.issuer.verifier(), opaque=idp.verifier())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", True),
        ("Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", True),
        (b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.", True),
        ("eyJ.a.b.c.d", True),  # JWE: the JWT verifier refuses it by name
        ("2YotnFZFEjr1zCsicMWpAA", False),  # RFC 6749's opaque example
        ("ory_at_abc.def", False),
        ("abc.def.ghi", False),  # three parts, but no JSON header
        ("eyJ.only-one-dot", False),
    ],
)
def test_the_shape_decides(raw: str | bytes, expected: bool) -> None:
    assert looks_like_jwt(raw) is expected


def test_each_kind_goes_to_its_verifier(idp: Served, verify: Verify) -> None:
    either = router(idp)
    jwt = verify(either, idp.issuer.issue("alice"))
    assert jwt.header["alg"] == "ES256"
    assert idp.calls == 0
    opaque = verify(either, idp.issuer.issue_opaque("bob"))
    assert opaque.subject == "bob"
    assert dict(opaque.header) == {}
    assert idp.calls == 1


def test_a_forged_jwt_is_not_sent_to_introspection(idp: Served, verify: Verify) -> None:
    header, payload, _ = idp.issuer.issue().split(".")
    with pytest.raises(InvalidSignature):
        verify(router(idp), f"{header}.{payload}.c2lnbmF0dXJl")
    assert idp.calls == 0


def test_with_one_verifier_every_token_goes_to_it(idp: Served, verify: Verify) -> None:
    with pytest.raises(MalformedToken):
        verify(TokenRouter(jwt=idp.issuer.verifier()), idp.issuer.issue_opaque())
    only_opaque = TokenRouter(opaque=idp.verifier())
    with pytest.raises(TokenInactive):  # the kit introspects only its opaque tokens
        verify(only_opaque, idp.issuer.issue())
    assert idp.calls == 1


def test_a_router_is_a_verifier_and_checks_its_arguments(idp: Served) -> None:
    assert isinstance(router(idp), Verifier)
    with pytest.raises(TypeError):
        TokenRouter()
    with pytest.raises(TypeError):
        TokenRouter(jwt=object())  # type: ignore[arg-type]


def test_scopes_reach_the_chosen_verifier(idp: Served, verify: Verify) -> None:
    from accesstoken import InsufficientScope

    for raw in (idp.issuer.issue(scopes=["a"]), idp.issuer.issue_opaque(scopes=["a"])):
        assert verify(router(idp), raw, scopes=("a",)).scopes == {"a"}
        with pytest.raises(InsufficientScope):
            verify(router(idp), raw, scopes=("b",))


# -- the adapters, with both kinds of token ------------------------------------------------


@pytest.mark.parametrize("adapter", sorted(CLIENTS))
def test_adapters_serve_jwt_and_opaque_tokens(idp: Served, adapter: str) -> None:
    client = CLIENTS[adapter](router(idp))
    for raw, subject in ((idp.issuer.issue("jay"), "jay"), (idp.issuer.issue_opaque("oz"), "oz")):
        response = client.get("/whoami", headers=bearer(raw))
        assert response.status_code == 200
        assert (response.json() if callable(response.json) else response.json)["sub"] == subject


@pytest.mark.parametrize("adapter", sorted(CLIENTS))
def test_adapters_refuse_an_inactive_token_with_401(idp: Served, adapter: str) -> None:
    client = CLIENTS[adapter](idp.verifier())
    raw = idp.issuer.issue_opaque()
    idp.issuer.revoke_opaque(raw)
    body = assert_refused(client.get("/whoami", headers=bearer(raw)), 401, "invalid_token")
    assert body["error_description"] == TokenInactive.default_description


@pytest.mark.parametrize("adapter", sorted(CLIENTS))
def test_adapters_answer_503_when_introspection_is_down(idp: Served, adapter: str) -> None:
    client = CLIENTS[adapter](idp.verifier())
    with idp.issuer.outage():
        assert_unavailable(client.get("/whoami", headers=bearer(idp.issuer.issue_opaque())))


class Recording:
    """A look-alike `Verifier` that is neither a TokenVerifier nor ours."""

    def __init__(self, inner: Verifier) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def verify(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        self.seen.append("sync")
        return self.inner.verify(raw, scopes)

    async def verify_async(self, raw: str | bytes, scopes: Collection[str] = ()) -> AccessToken:
        self.seen.append("async")
        return await self.inner.verify_async(raw, scopes)


def test_any_verifier_look_alike_is_accepted(idp: Served) -> None:
    recording = Recording(router(idp))
    assert isinstance(recording, Verifier)
    client = CLIENTS["asgi"](recording)
    assert client.get("/whoami", headers=bearer(idp.issuer.issue_opaque())).status_code == 200
    assert recording.seen == ["async"]
