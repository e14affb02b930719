"""Strict JSON for data an attacker controls: token segments, JWK Sets, discovery documents.

Python's `json` accepts what RFC 8259 and RFC 7515 do not want from a token: duplicate
member names (the last one silently wins, so two parsers can disagree about a claim),
`NaN` and `Infinity`, and invalid UTF-8 via surrogate escapes is left to the caller. Here a
duplicate member, a non-finite number, input nested too deep or an integer too long to
convert is simply "not JSON".

What it returns cannot be changed below the top level: every object inside is a
`ReadOnlyDict` and every array a `ReadOnlyList`, subclasses of `dict` and `list` whose
changing methods raise `TypeError` (the top-level object is for the caller to wrap in a
read-only view). A verified token's claims and header, and with `cache_size` the very same
objects, go to every request that presents the token (and a header to every token that
shares its segment), so one request's handler must not be able to change what the next
one reads. They are built while parsing, so they cost once per parse, never per request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, NoReturn

__all__ = ["ReadOnlyDict", "ReadOnlyList", "loads_strict"]


class _Rejected(ValueError):
    pass


def _read_only(*_args: object, **_kwargs: object) -> NoReturn:
    raise TypeError("parsed JSON is read-only; change a copy: dict(value) or list(value)")


class ReadOnlyList(list[Any]):
    """A JSON array that cannot be changed; `isinstance(value, list)` still holds."""

    __slots__ = ()

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> tuple[type[ReadOnlyList], tuple[list[Any]]]:
        # copy, deepcopy and pickle build a new one from the items, not by appending.
        return ReadOnlyList, (list(self),)


class ReadOnlyDict(dict[str, Any]):
    """A JSON object that cannot be changed; `isinstance(value, dict)` still holds."""

    __slots__ = ()

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[type[ReadOnlyDict], tuple[dict[str, Any]]]:
        return ReadOnlyDict, (dict(self),)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Rejected("duplicate member name")
    return result


def _object_of_containers(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # The parser calls the hook for every object, innermost first, and a hook cannot tell
    # whether its object has a parent: each object is built plain, and its parent makes
    # the objects and arrays it holds read-only.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Rejected("duplicate member name")
    for name, value in pairs:
        kind = type(value)
        if kind is dict:
            result[name] = ReadOnlyDict(value)  # its own members were converted by its hook
        elif kind is list:
            result[name] = _array(value)
    return result


def _array(items: list[Any]) -> ReadOnlyList:
    """Return a parsed array read-only, with the objects and arrays in it."""
    if _CONTAINERS.isdisjoint(map(type, items)):  # the usual array: strings or numbers
        return ReadOnlyList(items)
    return ReadOnlyList([_item(item) for item in items])


def _item(value: Any) -> Any:
    kind = type(value)
    return ReadOnlyDict(value) if kind is dict else _array(value) if kind is list else value


def _constant(name: str) -> NoReturn:
    raise _Rejected(f"{name} is not JSON")


_CONTAINERS: Final = frozenset((dict, list))
# The C scanners behind `decode()`: called directly for input that starts with a value and
# ends with it (what every issuer sends), they skip decode()'s two whitespace regular
# expressions and its Python frames. Anything else goes through decode(). Text without a
# "[" or a second "{" holds no array and no nested object, so nothing in it needs to be
# made read-only and no object's members are searched for one: the usual token.
# (typeshed does not declare the attribute that JSONDecoder.__init__ sets.)
_flat = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)
_scan_flat: Final[Callable[[str, int], tuple[Any, int]]] = _flat.scan_once  # type: ignore[attr-defined]
_nested = json.JSONDecoder(object_pairs_hook=_object_of_containers, parse_constant=_constant)
_scan_nested: Final[Callable[[str, int], tuple[Any, int]]] = _nested.scan_once  # type: ignore[attr-defined]


def loads_strict(data: bytes) -> dict[str, Any] | None:
    """Return the JSON object encoded in UTF-8 `data`, or None if it is anything else.

    None covers invalid UTF-8, a byte order mark, syntax errors, duplicate member names,
    `NaN`/`Infinity`, integers beyond Python's conversion limit, nesting beyond the
    parser's recursion limit, and valid JSON that is not an object.

    Every object and array inside it is read-only; the object itself is a plain `dict`, for
    the caller to wrap in a `MappingProxyType` before sharing it. (A subclass at the top
    would slow every claim read: CPython's fast call of a `dict` method wants an exact
    `dict`.)
    """
    try:
        text = data.decode("utf-8")
        # `in` on a slice is cheaper than str.find(), which spends most of its cost parsing
        # its arguments; every token passes here.
        nested = "[" in text or "{" in text[1:]
        try:
            value, end = (_scan_nested if nested else _scan_flat)(text, 0)
        except StopIteration:  # no value at offset 0 (leading whitespace, or not JSON)
            end = -1
        if end != len(text):  # the same parser, with whitespace allowed around
            value = (_nested if nested else _flat).decode(text)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None
