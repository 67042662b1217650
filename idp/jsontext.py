"""JSON text from outside (request parameters and bodies), read with bounds.

json.loads recurses once per level of nesting: a few thousand `[` in a few kilobytes raise
RecursionError, which no caller expects. The nesting is counted before parsing, so such
text is refused as invalid like any other bad JSON, and the size is bounded by the caller.
Escapes of lone surrogates are refused too: they make strings that cannot be stored.
"""

from __future__ import annotations

import json
from typing import Any


class InvalidJson(ValueError):
    """Not JSON, or JSON larger or more deeply nested than allowed."""


def loads(text: str | bytes, *, max_length: int, max_depth: int) -> Any:
    """The value of `text`; InvalidJson when it is not JSON or exceeds a bound.

    `max_length` counts characters of a str and bytes of bytes; `max_depth` counts nested
    arrays and objects (`[]` is 1, `{"a": [1]}` is 2).
    """
    if len(text) > max_length:
        raise InvalidJson(f"longer than {max_length}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJson("not UTF-8") from None
    if nesting_exceeds(text, max_depth):
        raise InvalidJson(f"nested deeper than {max_depth}")
    try:
        value = json.loads(text)
        # "\ud800" is valid JSON but no text: it cannot be UTF-8 encoded, and PostgreSQL
        # refuses it. Refused here once rather than failing wherever it is written.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidJson(str(exc)) from None
    return value


def nesting_exceeds(text: str, max_depth: int) -> bool:
    """Whether arrays and objects in JSON text nest deeper than `max_depth` (strings are
    skipped, escapes included). Text that is not JSON may pass: json.loads judges it."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False
