"""A hypothesis strategy shared by the property tests: one small edit of a valid compact JWS."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

#: The base64url alphabet (RFC 4648 §5): what a compact JWS is made of, besides its dots.
B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def mutations(draw: st.DrawFn, originals: Sequence[str]) -> str:
    """Return one of `originals` with one character replaced, inserted, deleted or swapped.

    The result may equal its original (a swap of two equal characters): tests tell.
    """
    original = draw(st.sampled_from(originals))
    position = draw(st.integers(0, len(original) - 1))
    kind = draw(st.sampled_from(["replace", "insert", "delete", "swap"]))
    char = draw(st.sampled_from(B64_CHARS + "."))
    if kind == "replace":
        return original[:position] + char + original[position + 1 :]
    if kind == "insert":
        return original[:position] + char + original[position:]
    if kind == "delete":
        return original[:position] + original[position + 1 :]
    other = draw(st.integers(0, len(original) - 1))
    chars = list(original)
    chars[position], chars[other] = chars[other], chars[position]
    return "".join(chars)
