# ruff: noqa: E501  (published vectors are kept as printed)
"""RFC 7515 appendix A: published tokens verify with the published keys.

The examples expired in 2011 (`exp` 1300819380): with a clock injected just before that they
are accepted, and with the real clock they fail as expired, after the signature has held.
"""

from __future__ import annotations

import pytest

from accesstoken import (
    HMACSecret,
    InvalidSignature,
    MalformedToken,
    StaticKeys,
    TokenExpired,
    TokenVerifier,
)
from tests.conftest import Verify

PAYLOAD = (
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
)
RSA_N = (
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4"
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbB"
    "YUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNm"
    "oudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
)
VECTORS = {
    "A.1 HS256": (
        {
            "kty": "oct",
            "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        },
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        + PAYLOAD
        + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    ),
    "A.2 RS256": (
        {"kty": "RSA", "n": RSA_N, "e": "AQAB"},
        "eyJhbGciOiJSUzI1NiJ9."
        + PAYLOAD
        + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2"
        "Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBM"
        "Hlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w"
        "9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
    ),
    "A.3 ES256": (
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        },
        "eyJhbGciOiJFUzI1NiJ9."
        + PAYLOAD
        + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
    ),
}
# A.4 signs the seven bytes "Payload", not a claims set.
ES512_JWK = {
    "kty": "EC",
    "crv": "P-521",
    "x": "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
    "y": "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2",
}
ES512_TOKEN = (
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZ"
    "qwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9"
    "ERBXukOXolLzeO_Jn"
)
BEFORE_EXPIRY = 1300819380 - 100


def verifier_for(jwk: dict[str, str], **options: object) -> TokenVerifier:
    keys = StaticKeys.from_jwks({"keys": [jwk]})
    return TokenVerifier(keys, issuer="joe", audience=None, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(VECTORS))
def test_published_example_verifies_with_injected_clock(name: str, verify: Verify) -> None:
    jwk, token = VECTORS[name]
    result = verify(verifier_for(jwk, clock=lambda: BEFORE_EXPIRY), token)
    assert result.issuer == "joe"
    assert result.claims["http://example.com/is_root"] is True
    assert result.expires_at is not None
    assert result.expires_at.year == 2011


@pytest.mark.parametrize("name", list(VECTORS))
def test_published_example_is_expired_with_real_clock(name: str, verify: Verify) -> None:
    jwk, token = VECTORS[name]
    with pytest.raises(TokenExpired):
        verify(verifier_for(jwk), token)


@pytest.mark.parametrize("name", list(VECTORS))
def test_published_example_with_one_flipped_signature_bit_fails(name: str, verify: Verify) -> None:
    jwk, token = VECTORS[name]
    head, body, sig = token.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    with pytest.raises(InvalidSignature):
        verify(verifier_for(jwk, clock=lambda: BEFORE_EXPIRY), f"{head}.{body}.{flipped}")


def test_hs256_example_key_as_hmac_secret(verify: Verify) -> None:
    import base64

    secret = base64.urlsafe_b64decode(VECTORS["A.1 HS256"][0]["k"] + "==")
    verifier = TokenVerifier(
        HMACSecret(secret), issuer="joe", audience=None, clock=lambda: BEFORE_EXPIRY
    )
    assert verify(verifier, VECTORS["A.1 HS256"][1]).issuer == "joe"


def test_es512_example_signature_holds_but_payload_is_not_claims(verify: Verify) -> None:
    # The signature is checked first: the published one passes and the token then fails on
    # its payload; a flipped signature byte fails on the signature instead.
    verifier = verifier_for(ES512_JWK)
    with pytest.raises(MalformedToken):
        verify(verifier, ES512_TOKEN)
    head, body, sig = ES512_TOKEN.split(".")
    with pytest.raises(InvalidSignature):
        verify(verifier, f"{head}.{body}.B{sig[1:]}")
