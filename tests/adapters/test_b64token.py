"""The b64token check (RFC 6750 §2.1) agrees with the grammar, for any text."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from accesstoken._bearer import is_token68

GRAMMAR = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
ODD = ["é", " ", "\t", ",", '"', "\x00", "\u212a"]
ALPHABET = st.sampled_from([*"Aa0-._~+/=", *ODD])


@given(st.text(alphabet=ALPHABET, max_size=12) | st.text(max_size=12))
@example("")
@example("=")
@example("abc==")
@example("ab=c")
@example("\u212a")  # KELVIN SIGN: lower()s to ASCII "k", but is not ASCII itself
def test_is_token68_follows_the_grammar(value: str) -> None:
    assert is_token68(value) == (GRAMMAR.fullmatch(value) is not None)
