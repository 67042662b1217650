"""GET /units and GET /units/{code}: the units the caller administers (read-only here).

A unit administrator sees the units of their subtrees; a super-administrator every unit.
Asking for one unit outside one's subtrees is a 403 and an "admin.denied" audit event.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import jsonify
from sqlalchemy.orm import joinedload

from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.openapi import operation_doc
from idp.admin.api.paging import (
    BOOL_SCHEMA,
    Filter,
    bool_filter,
    is_plain_text,
    page_of,
    page_schema,
    parse_query,
    query_parameters,
    text_filter,
    text_schema,
)
from idp.admin.api.problems import Problem
from idp.admin.permissions import ADMIN_READ
from idp.directory.models import Unit
from idp.directory.store import find_unit

CODE_MAX_LENGTH = 64
SEARCH_MAX_LENGTH = 100

FILTERS = (
    Filter(
        "parent",
        text_filter(CODE_MAX_LENGTH),
        text_schema(CODE_MAX_LENGTH),
        "Only the units directly below the unit with this code.",
    ),
    Filter(
        "search",
        text_filter(SEARCH_MAX_LENGTH),
        text_schema(SEARCH_MAX_LENGTH),
        "Part of the unit's code or name (case-insensitive).",
    ),
    Filter("active", bool_filter, BOOL_SCHEMA, "Only active (true) or inactive (false) units."),
)


def unit_json(unit: Unit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": unit.kind,
        "parent": unit.parent.code if unit.parent is not None else None,
        "active": unit.active,
    }


def _filtered(select: sa.Select, filters: dict[str, Any]) -> sa.Select:
    if "parent" in filters:
        parent = find_unit(filters["parent"])
        select = select.where(Unit.parent_id == (parent.id if parent is not None else -1))
    if "search" in filters:
        needle = filters["search"].lower()
        select = select.where(
            sa.or_(
                sa.func.lower(Unit.code).contains(needle, autoescape=True),
                sa.func.lower(Unit.name).contains(needle, autoescape=True),
            )
        )
    if "active" in filters:
        select = select.where(Unit.active.is_(filters["active"]))
    return select


@bp.get("/units")
@operation(ADMIN_READ)
def list_units():
    query = parse_query(FILTERS, key_types=(str,))
    select = scope().filter_units(sa.select(Unit).options(joinedload(Unit.parent)))
    return page_of(
        _filtered(select, query.filters),
        query.page,
        keys=(Unit.code,),
        render=unit_json,
        key_of=lambda unit: (unit.code,),
    )


@bp.get("/units/<code>")
@operation(ADMIN_READ)
def get_unit(code: str):
    unit = find_unit(code) if is_plain_text(code, CODE_MAX_LENGTH) else None
    if unit is None:
        raise Problem(404, "No unit has this code.")
    if not scope().covers_unit(unit.id):
        raise deny(caller().actor)
    return jsonify(unit_json(unit))


OPENAPI = {
    "paths": {
        "/units": {
            "get": operation_doc(
                "List the units the caller administers",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/Unit"),
                parameters=query_parameters(FILTERS),
                tags=["units"],
                description="Ordered by code. A unit administrator sees their subtrees only.",
            )
        },
        "/units/{code}": {
            "get": operation_doc(
                "One unit",
                ADMIN_READ,
                ok={"$ref": "#/components/schemas/Unit"},
                parameters=[
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                tags=["units"],
                description="403 (and an audit event) for a unit outside the caller's subtrees.",
            )
        },
    },
    "components": {
        "schemas": {
            "Unit": {
                "type": "object",
                "required": ["code", "name", "kind", "parent", "active"],
                "properties": {
                    "code": {"type": "string"},
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                    "parent": {"type": ["string", "null"], "description": "The parent's code"},
                    "active": {"type": "boolean"},
                },
            }
        }
    },
}
