"""Strict JSON for data an attacker controls: token segments, JWK Sets, discovery documents.

Python's `json` accepts what RFC 8259 and RFC 7515 do not want from a token: duplicate
member names (the last one silently wins, so two parsers can disagree about a claim),
`NaN` and `Infinity`, and invalid UTF-8 via surrogate escapes is left to the caller. Here a
duplicate member, a non-finite number, input nested too deep or an integer too long to
convert is simply "not JSON".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, NoReturn

__all__ = ["loads_strict"]


class _Rejected(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Rejected("duplicate member name")
    return result


def _constant(name: str) -> NoReturn:
    raise _Rejected(f"{name} is not JSON")


_decoder = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)
# The C scanner behind `_decoder.decode()`: called directly for input that starts with a
# value and ends with it (what every issuer sends), it skips decode()'s two whitespace
# regular expressions and its Python frames. Anything else goes through decode().
# (typeshed does not declare the attribute that JSONDecoder.__init__ sets.)
_scan_once: Final[Callable[[str, int], tuple[Any, int]]] = _decoder.scan_once  # type: ignore[attr-defined]


def loads_strict(data: bytes) -> dict[str, Any] | None:
    """Return the JSON object encoded in UTF-8 `data`, or None if it is anything else.

    None covers invalid UTF-8, a byte order mark, syntax errors, duplicate member names,
    `NaN`/`Infinity`, integers beyond Python's conversion limit, nesting beyond the
    parser's recursion limit, and valid JSON that is not an object.
    """
    try:
        text = data.decode("utf-8")
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:  # no value at offset 0 (leading whitespace, or not JSON)
            end = -1
        if end != len(text):
            value = _decoder.decode(text)  # the same parser, with whitespace allowed around
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None
