"""Pagination and filtering for the admin API's lists.

A list answers `{"items": [...], "next": URL | null}`, and a `Link: <URL>; rel="next"`
header when there is more. Paging is by keyset, never by offset: the query is ordered by a
unique key (e.g. a unit's code, or (name, id)), `cursor` is the opaque, URL-safe encoding of
the last key sent, and the next page starts strictly after it, so that pages stay cheap
deep into 9,800 people and nothing is skipped or repeated when rows are added meanwhile.
`limit` is 1..MAX_LIMIT (default DEFAULT_LIMIT). Keys are plain columns that are never NULL
(SQL compares NULL with nothing), and `key_of` reads the same values from a row: an
expression such as lower(name) would be computed differently by SQLite, PostgreSQL and
Python, and pages would skip or repeat rows.

Filters are declared per list (`Filter`: a name, a parser, and its OpenAPI schema) and
parsed by `parse_query`, which refuses unknown or repeated parameters and bad values with a
422 problem naming each parameter; the same declarations give the operation's OpenAPI
parameters (`query_parameters`), so the document and the code cannot drift apart.

    FILTERS = (Filter("search", text_filter(100), text_schema(100), "Part of the name"),)

    @bp.get("/units")
    @operation(ADMIN_READ)
    def list_units():
        query = parse_query(FILTERS, key_types=(str,))   # the types of the keys below
        select = scope().filter_units(sa.select(Unit))
        ...
        return page_of(select, query.page, keys=(Unit.code,), render=unit_json,
                       key_of=lambda unit: (unit.code,))
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, jsonify, request

from idp.admin.api.problems import field_errors
from idp.extensions import db

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 512
PAGING_PARAMETERS = ("limit", "cursor")


class BadValue(ValueError):
    """A filter's parser refuses a value (the message is the reason, for the client)."""


@dataclass(frozen=True)
class Filter:
    """One query parameter of a list: how to parse it and how the document describes it."""

    name: str
    parse: Callable[[str], Any]
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class PageRequest:
    limit: int
    # The key of the last row of the previous page, decoded from `cursor`.
    after: tuple[Any, ...] | None = None


@dataclass
class Query:
    page: PageRequest
    filters: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- parsers


# Text without control characters (PostgreSQL's text cannot even hold NUL).
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f]+$"
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))


def is_plain_text(value: str, max_length: int) -> bool:
    """1 to `max_length` characters, none a control character (path parameters too)."""
    return 0 < len(value) <= max_length and _CONTROL.isdisjoint(value)


def text_filter(max_length: int) -> Callable[[str], str]:
    """A text parameter of 1 to `max_length` characters, none a control character."""

    def parse(value: str) -> str:
        if not is_plain_text(value, max_length):
            raise BadValue(f"must be 1 to {max_length} characters, none a control character")
        return value

    return parse


def text_schema(max_length: int) -> dict[str, Any]:
    """The OpenAPI schema of a text_filter's parameter."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": TEXT_PATTERN}


def bool_filter(value: str) -> bool:
    if value not in ("true", "false"):
        raise BadValue("must be true or false")
    return value == "true"


BOOL_SCHEMA: dict[str, Any] = {"type": "string", "enum": ["true", "false"]}


# ---------------------------------------------------------------- cursors


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, key_types: Sequence[type]) -> tuple[Any, ...]:
    """The key in a cursor, or BadValue: only what encode_cursor made for this list (a
    value of each key column's type, so that a forged cursor never compares a text column
    with a number, which PostgreSQL refuses)."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadValue("is not a cursor of this list")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadValue("is not a cursor of this list") from None
    valid = (
        isinstance(key, list)
        and len(key) == len(key_types)
        and all(
            isinstance(v, kind) and not isinstance(v, bool)
            for v, kind in zip(key, key_types, strict=True)
        )
    )
    if not valid:
        raise BadValue("is not a cursor of this list")
    return tuple(key)


# ---------------------------------------------------------------- the query string


def _parse_limit(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise BadValue(f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def parse_query(filters: Iterable[Filter] = (), *, key_types: Sequence[type] = (str,)) -> Query:
    """The list's paging and filters from the query string, or a 422 problem listing every
    bad parameter (unknown, repeated, or with a value the filter refuses)."""
    declared = {f.name: f for f in filters}
    errors: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in request.args:
        given = request.args.getlist(name)
        if name not in declared and name not in PAGING_PARAMETERS:
            errors.append({"parameter": name[:64], "detail": "is not a parameter of this list"})
            continue
        if len(given) > 1:
            errors.append({"parameter": name, "detail": "is given more than once"})
            continue
        parse = declared[name].parse if name in declared else _paging_parser(name, key_types)
        try:
            values[name] = parse(given[0])
        except BadValue as exc:
            errors.append({"parameter": name, "detail": str(exc)})
    if errors:
        raise field_errors(errors)
    page = PageRequest(limit=values.pop("limit", DEFAULT_LIMIT), after=values.pop("cursor", None))
    return Query(page=page, filters=values)


def _paging_parser(name: str, key_types: Sequence[type]) -> Callable[[str], Any]:
    if name == "limit":
        return _parse_limit
    return lambda value: decode_cursor(value, key_types)


# ---------------------------------------------------------------- one page


def page_of(
    select: sa.Select,
    page: PageRequest,
    *,
    keys: Sequence[Any],
    render: Callable[[Any], dict[str, Any]],
    key_of: Callable[[Any], Sequence[Any]],
) -> Response:
    """One page of `select` (whose rows are single entities), ordered by `keys` (columns
    whose values together are unique), after `page.after`."""
    if page.after is not None:
        select = select.where(sa.tuple_(*keys) > sa.tuple_(*page.after))
    rows = list(db.session.scalars(select.order_by(*keys).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_url = next_page_url(key_of(rows[-1]), page.limit) if more and rows else None
    response = jsonify({"items": [render(row) for row in rows], "next": next_url})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


def next_page_url(last_key: Sequence[Any], limit: int) -> str:
    """This request's URL with `cursor` after `last_key` (other parameters kept)."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    if "limit" not in request.args:
        params.append(("limit", str(limit)))
    params.append(("cursor", encode_cursor(last_key)))
    return f"{request.base_url}?{urlencode(params)}"


# ---------------------------------------------------------------- the document


def query_parameters(filters: Iterable[Filter] = (), *, paged: bool = True) -> list[dict]:
    """The OpenAPI parameters of a list: its filters, then limit and cursor."""
    params = [
        {
            "name": f.name,
            "in": "query",
            "required": False,
            "description": f.description,
            "schema": f.schema,
        }
        for f in filters
    ]
    if paged:
        params += [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Items per page (default {DEFAULT_LIMIT}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "Opaque: the `next` link of the previous page carries it.",
                "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
            },
        ]
    return params


def page_schema(item_ref: str) -> dict[str, Any]:
    """The schema of a page of `item_ref` (a "#/components/schemas/..." reference)."""
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "next": {"type": ["string", "null"], "description": "The next page, if any."},
        },
    }
