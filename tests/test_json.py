"""Strict JSON: what it refuses, and the read-only objects and arrays it returns."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from accesstoken._json import ReadOnlyDict, ReadOnlyList, loads_strict

DOCUMENT = {
    "sub": "alice",
    "aud": ["api", "other"],
    "realm_access": {"roles": ["admin"], "meta": {"level": 2}},
    "grid": [[1, 2], [{"x": [3]}]],
    "empty": {},
    "none": [],
}

LIST_CHANGES: list[Callable[[list[Any]], object]] = [
    lambda value: value.append("root"),
    lambda value: value.extend(["root"]),
    lambda value: value.insert(0, "root"),
    lambda value: value.pop(),
    lambda value: value.remove("admin"),
    lambda value: value.clear(),
    lambda value: value.sort(),
    lambda value: value.reverse(),
    lambda value: value.__setitem__(0, "root"),
    lambda value: value.__setitem__(slice(0, 1), ["root"]),
    lambda value: value.__delitem__(0),
    lambda value: value.__iadd__(["root"]),
    lambda value: value.__imul__(2),
]
DICT_CHANGES: list[Callable[[dict[str, Any]], object]] = [
    lambda value: value.__setitem__("admin", True),
    lambda value: value.__delitem__("roles"),
    lambda value: value.pop("roles"),
    lambda value: value.popitem(),
    lambda value: value.clear(),
    lambda value: value.setdefault("admin", True),
    lambda value: value.update(admin=True),
    lambda value: value.__ior__({"admin": True}),
]


def containers(value: object) -> list[Any]:
    """Return every object and array inside `value`, however deep."""
    found: list[Any] = []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        if isinstance(item, dict | list):
            found.append(item)
            found.extend(containers(item))
    return found


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
@pytest.mark.parametrize("indent", [None, 2])
def test_every_object_and_array_inside_is_read_only(
    separators: tuple[str, str], indent: int | None
) -> None:
    text = json.dumps(DOCUMENT, separators=separators, indent=indent)
    document = loads_strict(text.encode())
    assert document == DOCUMENT
    inside = containers(document)
    assert len(inside) == 11
    for value in inside:
        if isinstance(value, list):
            assert type(value) is ReadOnlyList
            for change in LIST_CHANGES:
                with pytest.raises(TypeError, match="read-only"):
                    change(value)
        else:
            assert type(value) is ReadOnlyDict
            for change in DICT_CHANGES:
                with pytest.raises(TypeError, match="read-only"):
                    change(value)
    assert loads_strict(text.encode()) == DOCUMENT  # nothing above changed anything


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": {"b": 1}}',
        b' {"a": {"b": 1}} ',  # whitespace around: the slower path through decode()
        b'{"s": "no [ here", "a": {"b": 1}}',
        b'{"a": [{"b": 1}]}',
        b'{"a": [[{"b": [1]}]]}',
    ],
)
def test_nested_objects_are_read_only_whatever_the_text_around(text: bytes) -> None:
    document = loads_strict(text)
    assert document is not None
    assert json.loads(text) == document
    assert all(type(value) in (ReadOnlyDict, ReadOnlyList) for value in containers(document))


def test_the_top_level_object_is_a_plain_dict_for_the_caller_to_wrap() -> None:
    document = loads_strict(b'{"a": 1}')
    assert type(document) is dict
    document = loads_strict(json.dumps(DOCUMENT).encode())
    assert type(document) is dict


def test_read_only_values_still_work_as_lists_and_dicts() -> None:
    document = loads_strict(json.dumps(DOCUMENT).encode())
    assert document is not None
    roles = document["realm_access"]["roles"]
    assert isinstance(roles, list)
    assert isinstance(document["realm_access"], dict)
    assert json.loads(json.dumps(document)) == DOCUMENT
    more = roles + ["x"]  # noqa: RUF005 - concatenation is what is tested
    assert more == ["admin", "x"]
    assert type(more) is list  # a new list is yours to change
    assert roles.copy() == ["admin"]
    assert type(document["realm_access"].copy()) is dict
    assert {**document["realm_access"], "x": 1}["x"] == 1


@pytest.mark.parametrize(
    "clone",
    [copy.copy, copy.deepcopy, lambda value: pickle.loads(pickle.dumps(value))],  # noqa: S301
)
def test_copies_are_equal_and_read_only(clone: Callable[[Any], Any]) -> None:
    document = loads_strict(json.dumps(DOCUMENT).encode())
    assert document is not None
    for value in containers(document):
        cloned = clone(value)
        assert cloned == value
        assert type(cloned) is type(value)


@pytest.mark.parametrize(
    "text",
    [b'{"a": 1, "a": 2}', b'{"a": {"b": 1, "b": 2}}', b'{"a": [{"b": 1, "b": 2}]}', b"[]", b"{"],
)
def test_duplicates_and_non_objects_are_not_json(text: bytes) -> None:
    assert loads_strict(text) is None
