"""`TokenUser`: a verified token as the user object Django and Starlette expect."""

from __future__ import annotations

from accesstoken import AccessToken, TokenUser


def token(**claims: object) -> AccessToken:
    return AccessToken("raw." + str(sorted(claims.items())), {"alg": "HS256"}, claims)


def test_a_user_is_named_by_sub() -> None:
    read = AccessToken("r", {}, {"sub": "alice"}, scopes=frozenset({"a"}), roles=frozenset({"b"}))
    user = TokenUser(read)
    assert user.token is read
    assert user.is_authenticated is True
    assert user.is_anonymous is False
    assert user.identity == user.username == user.display_name == user.pk == user.id == "alice"
    assert user.get_username() == str(user) == "alice"
    assert user.scopes == {"a"}
    assert user.roles == {"b"}


def test_a_machine_is_named_by_client_id() -> None:
    assert TokenUser(token(client_id="billing")).identity == "billing"
    assert TokenUser(token()).identity == ""


def test_users_of_one_token_are_equal() -> None:
    read = token(sub="alice")
    assert TokenUser(read) == TokenUser(read)
    assert len({TokenUser(read), TokenUser(read), TokenUser(token(sub="bob"))}) == 2
