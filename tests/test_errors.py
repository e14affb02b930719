"""The error tree: RFC 6750 codes, status codes and a header nobody can inject into."""

from __future__ import annotations

import re

import pytest

import accesstoken
from accesstoken import errors


def test_status_and_codes() -> None:
    assert accesstoken.MissingToken().www_authenticate() == "Bearer"
    assert accesstoken.MissingToken().www_authenticate("api") == 'Bearer realm="api"'
    assert accesstoken.InvalidRequest.status_code == 400
    assert accesstoken.InvalidRequest.error == "invalid_request"
    assert accesstoken.TokenExpired.status_code == 401
    assert accesstoken.TokenExpired.error == "invalid_token"
    assert accesstoken.InsufficientScope.status_code == 403
    assert accesstoken.Forbidden.status_code == 403
    assert accesstoken.KeySourceUnavailable.status_code == 503
    assert accesstoken.RevocationUnavailable.status_code == 503
    assert not issubclass(accesstoken.KeySourceError, accesstoken.TokenError)


def test_every_error_is_reexported_from_the_package() -> None:
    for name in errors.__all__:
        assert getattr(accesstoken, name) is getattr(errors, name)
        cls = getattr(errors, name)
        assert issubclass(cls, accesstoken.AccessTokenError)
        assert cls().description  # constructible with no argument, with a default text


def test_invalid_token_header() -> None:
    header = accesstoken.TokenExpired().www_authenticate(realm="orders")
    assert header == (
        'Bearer realm="orders", error="invalid_token", '
        'error_description="The access token has expired."'
    )


def test_insufficient_scope_header_lists_scopes() -> None:
    exc = accesstoken.InsufficientScope(["b", "a", "a"])
    assert exc.required_scopes == ("a", "b")
    assert exc.www_authenticate().endswith('scope="a b"')


@pytest.mark.parametrize(
    "evil", ['x", error="none', "x\r\nSet-Cookie: a=b", "x\\", "ünïcode", "\x00\x7f"]
)
def test_quoted_strings_cannot_break_out(evil: str) -> None:
    for header in (
        accesstoken.InvalidToken(evil).www_authenticate(realm=evil),
        accesstoken.InsufficientScope([evil, 'a"b']).www_authenticate(),
        accesstoken.InvalidDPoPProof(evil, algorithms=[evil, "ES256"]).www_authenticate(evil),
        accesstoken.InsufficientUserAuthentication(evil, acr_values=[evil]).www_authenticate(),
    ):
        assert "\r" not in header
        assert "\n" not in header
        assert all(" " <= char <= "~" for char in header)
        # every quote inside a value is escaped: unescaped quotes pair up as delimiters
        unescaped = header.replace('\\"', "").count('"')
        assert unescaped % 2 == 0
        assert header.count('error="') <= 1


def test_description_never_defaults_to_input() -> None:
    exc = accesstoken.MalformedToken()
    assert str(exc) == exc.description == "The access token is malformed."


def test_invalid_dpop_proof_is_a_dpop_challenge_listing_algorithms() -> None:
    exc = accesstoken.InvalidDPoPProof()
    assert isinstance(exc, accesstoken.InvalidToken)
    assert (exc.status_code, exc.error) == (401, "invalid_dpop_proof")
    assert exc.www_authenticate() == (
        'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid.", '
        'algs="ES256 RS256 PS256 EdDSA"'
    )
    narrowed = accesstoken.InvalidDPoPProof("Bad.", algorithms=("EdDSA",))
    assert narrowed.www_authenticate("api").endswith('error_description="Bad.", algs="EdDSA"')
    assert narrowed.www_authenticate("api").startswith('DPoP realm="api", ')


def test_insufficient_user_authentication_names_what_would_do() -> None:
    exc = accesstoken.InsufficientUserAuthentication(acr_values=("urn:a", "urn:b"), max_age=300.0)
    assert not isinstance(exc, accesstoken.InvalidToken)
    assert (exc.status_code, exc.error) == (401, "insufficient_user_authentication")
    assert (exc.acr_values, exc.max_age) == (("urn:a", "urn:b"), 300.0)
    assert exc.www_authenticate().startswith('Bearer error="insufficient_user_authentication", ')
    assert exc.www_authenticate().endswith('acr_values="urn:a urn:b", max_age="300"')
    only_age = accesstoken.InsufficientUserAuthentication(max_age=2.5).www_authenticate()
    assert only_age.endswith('max_age="2.5"')
    assert "acr_values" not in only_age
    only_acr = accesstoken.InsufficientUserAuthentication(acr_values="urn:mfa").www_authenticate()
    assert only_acr.endswith('acr_values="urn:mfa"')
    assert "max_age" not in only_acr


# RFC 9110 §11.2: auth-scheme [ 1*SP auth-param *( OWS "," OWS auth-param ) ], each value a
# quoted-string whose quote and backslash are escaped.
PARAM = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')
CHALLENGE = re.compile(r'[A-Za-z]+( [a-z_]+="(?:[^"\\]|\\.)*"(, [a-z_]+="(?:[^"\\]|\\.)*")*)?')


@pytest.mark.parametrize(
    "evil", ['x", error="none', "x\r\nSet-Cookie: a=b", "x\\", 'x\\"', "ünïcode", "\x00\x7f"]
)
def test_every_challenge_parses_as_one_challenge(evil: str) -> None:
    for header in (
        accesstoken.InvalidToken(evil).www_authenticate(realm=evil),
        accesstoken.InsufficientScope([evil]).www_authenticate(realm=evil),
        accesstoken.InvalidDPoPProof(evil, algorithms=[evil]).www_authenticate(evil),
        accesstoken.InsufficientUserAuthentication(evil, acr_values=[evil]).www_authenticate(evil),
        accesstoken.DPoP().challenge(realm=evil),
    ):
        assert CHALLENGE.fullmatch(header), header
        assert all(" " <= char <= "~" for char in header)
        params = {}
        for param in PARAM.finditer(header):
            assert param[1] not in params, header  # no parameter injected twice
            params[param[1]] = re.sub(r"\\(.)", r"\1", param[2])
        clean = "".join(c if " " <= c <= "~" else "?" for c in evil)
        assert params["realm"] == clean  # the value survives, escaped and unescaped
