"""The Authorization header parser shared by every adapter, and the error → response mapping."""

from __future__ import annotations

import pytest

from accesstoken import (
    Forbidden,
    InsufficientScope,
    InvalidRequest,
    KeySourceUnavailable,
    MissingToken,
    TokenExpired,
)
from accesstoken._bearer import BEARER, query_has_token, split_scheme, token_from_headers
from accesstoken._responses import error_response


@pytest.mark.parametrize("value", ["Bearer a.b.c", "bearer a.b.c", "BEARER a.b.c", "BeArEr a.b.c"])
def test_scheme_is_case_insensitive(value: str) -> None:
    assert token_from_headers([value]) == "a.b.c"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bearer a.b.c", (BEARER, "a.b.c")),
        ("bEaReR a.b.c", (BEARER, "a.b.c")),
        (b"BEARER a.b.c", (BEARER, b"a.b.c")),
        ("Bearer ", (BEARER, "")),
        ("Bearer", (BEARER, "")),
        (b"bearer", (BEARER, b"")),
        ("Bearer  a", (BEARER, " a")),  # the rest is the caller's to judge
        ("a.b.c", (None, "a.b.c")),
        ("Bearera.b.c", (None, "Bearera.b.c")),
        ("Bearer\ta.b.c", (None, "Bearer\ta.b.c")),
        (b"Basic dXNlcjpwYXNz", (None, b"Basic dXNlcjpwYXNz")),
        ("", (None, "")),
    ],
)
def test_split_scheme_is_the_one_reader_of_the_prefix(
    value: str | bytes, expected: tuple[str | None, str | bytes]
) -> None:
    assert split_scheme(value) == expected


def test_header_bytes_are_read_as_latin1() -> None:
    # ASGI servers hand headers over as bytes; the same rules apply to them.
    assert token_from_headers([b"Bearer a.b.c"]) == "a.b.c"
    with pytest.raises(MissingToken):
        token_from_headers([b"Basic dXNlcjpwYXNz"])
    with pytest.raises(InvalidRequest):
        token_from_headers(["Bearer abc\u00e9".encode("latin-1")])


def test_token68_characters_and_padding_are_accepted() -> None:
    assert token_from_headers(["Bearer aZ09-._~+/=="]) == "aZ09-._~+/=="


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer  abc",  # two spaces
        "Bearer\tabc",
        "Bearer abc def",
        "Bearer abc,",
        "Bearer a=b",  # "=" only at the end
        'Bearer "abc"',
        "Bearer abc\u00e9",
        "Bearer abc\u20ac",  # not even latin-1
        "B\u00e9arer abc",
        " Bearer abc",
        "Bearer a, Bearer b",  # two headers folded into one by the server
    ],
)
def test_malformed_header_is_invalid_request(value: str) -> None:
    with pytest.raises(InvalidRequest):
        token_from_headers([value])


def test_no_header_is_missing_token() -> None:
    with pytest.raises(MissingToken):
        token_from_headers([])


def test_another_scheme_is_missing_token() -> None:
    with pytest.raises(MissingToken):
        token_from_headers(["Basic dXNlcjpwYXNz"])


def test_header_sent_twice_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        token_from_headers(["Bearer abc", "Bearer abc"])


@pytest.mark.parametrize("values", [["Bearer abc"], []])
def test_token_in_query_is_invalid_request(values: list[str]) -> None:
    with pytest.raises(InvalidRequest):
        token_from_headers(values, query_token=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"access_token=abc", True),
        (b"a=1&access_token=", True),
        ("x=access_token", False),
        (b"my_access_token=abc", False),
        (b"", False),
    ],
)
def test_query_has_token(query: str | bytes, expected: bool) -> None:
    assert query_has_token(query) is expected


def test_missing_token_response_has_no_error_code() -> None:
    response = error_response(MissingToken(), realm="orders")
    assert response.status_code == 401
    assert response.body == {"error_description": MissingToken().description}
    assert response.headers == {"WWW-Authenticate": 'Bearer realm="orders"'}


def test_invalid_token_response() -> None:
    response = error_response(TokenExpired())
    assert response.status_code == 401
    assert response.body["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_insufficient_scope_response_names_the_scopes() -> None:
    response = error_response(InsufficientScope(["orders:write", "orders:read"]))
    assert response.status_code == 403
    assert 'scope="orders:read orders:write"' in response.headers["WWW-Authenticate"]


def test_forbidden_response() -> None:
    response = error_response(Forbidden())
    assert response.status_code == 403
    assert response.body["error"] == "insufficient_scope"


def test_key_source_error_response_does_not_blame_the_token() -> None:
    response = error_response(KeySourceUnavailable())
    assert response.status_code == 503
    assert response.body["error"] == "temporarily_unavailable"
    assert set(response.headers) == {"Retry-After"}
    assert int(response.headers["Retry-After"]) > 0
