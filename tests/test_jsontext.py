"""idp.jsontext: JSON from outside, bounded in size and nesting."""

from __future__ import annotations

import pytest

from idp.jsontext import InvalidJson, loads, nesting_exceeds


def test_nesting_is_counted_outside_strings_only():
    assert not nesting_exceeds('{"a": [1, {"b": "[[[[{{{{"}]}', 3)
    assert nesting_exceeds('{"a": [1, {"b": [2]}]}', 3)
    assert not nesting_exceeds(r'{"a": "\"[[[[[\\"}', 1)
    assert nesting_exceeds(r'{"a": "\\", "b": [[]]}', 2)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 5000 + "]" * 5000,
        '{"a":' * 3000 + "1" + "}" * 3000,
        b"\xff\xfe",
        '"\\ud800"',
        '{"\\udfff": 1}',
        "{",
        "x" * 101,
    ],
)
def test_refused_as_invalid_json(text):
    with pytest.raises(InvalidJson):
        loads(text, max_length=100_000 if len(text) > 101 else 100, max_depth=8)


def test_values_within_bounds():
    assert loads('{"id_token": {"acr": {"values": ["a", "b"]}}}', max_length=100, max_depth=4)
    assert loads('"\\ud83d\\ude00"', max_length=100, max_depth=1) == "😀"
    assert loads(b"[1, 2]", max_length=100, max_depth=1) == [1, 2]
