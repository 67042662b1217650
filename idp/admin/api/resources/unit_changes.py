"""The units' re-organisations in the admin API: rename, move, merge, deactivate.

The same functions as `idp units ...` and the console's Units page (idp.directory.units),
the same permission checks (idp.admin.permissions: a unit administrator acts only inside
their subtree, anything outside is a 403 and an "admin.denied" audit event). A refusal of
the tree (a cycle, an inactive target, people still in a unit to deactivate) is a 422
problem naming the reason; nothing is changed.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from idp import audit
from idp.admin import permissions
from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.bodies import json_object, required_text
from idp.admin.api.openapi import operation_doc
from idp.admin.api.paging import is_plain_text
from idp.admin.api.problems import Problem, field_errors
from idp.admin.api.resources.units import CODE_MAX_LENGTH, unit_json
from idp.admin.permissions import ADMIN_WRITE
from idp.directory import units
from idp.directory.fields import UNIT_NAME_MAX_LENGTH
from idp.directory.models import Unit
from idp.directory.store import find_unit
from idp.extensions import commit


def _unit(code: str) -> Unit:
    """The unit of the path, or 404; 403 (and an audit event) outside the caller's scope."""
    unit = find_unit(code) if is_plain_text(code, CODE_MAX_LENGTH) else None
    if unit is None:
        raise Problem(404, "No unit has this code.")
    if not permissions.may_change_unit(scope(), unit):
        raise deny(caller().actor)
    return unit


def _named_unit(data: dict[str, Any], name: str, *, nullable: bool = False) -> Unit | None:
    """The unit whose code the body gives in `name` (422 when there is none)."""
    value = data.get(name)
    if value is None and nullable and name in data:
        return None
    errors: list[dict[str, str]] = []
    code = required_text(data, name, max_length=CODE_MAX_LENGTH, errors=errors)
    if errors:
        raise field_errors(errors)
    unit = find_unit(code) if is_plain_text(code, CODE_MAX_LENGTH) else None
    if unit is None:
        raise field_errors([{"pointer": f"/{name}", "detail": "no unit has this code"}])
    return unit


def _changed(unit: Unit, changed: bool) -> Any:
    commit()
    return jsonify({"unit": unit_json(unit), "changed": changed})


@bp.post("/units/<code>/rename")
@operation(ADMIN_WRITE)
def rename_unit(code: str):
    unit = _unit(code)
    data = json_object()
    errors: list[dict[str, str]] = []
    name = required_text(data, "name", max_length=UNIT_NAME_MAX_LENGTH, errors=errors)
    if errors:
        raise field_errors(errors)
    changed = units.rename_unit(unit, name, actor=caller().actor, origin=audit.request_origin())
    return _changed(unit, changed)


@bp.post("/units/<code>/move")
@operation(ADMIN_WRITE)
def move_unit(code: str):
    unit = _unit(code)
    data = json_object()
    if "parent" not in data:
        raise field_errors([{"pointer": "/parent", "detail": "a unit code, or null for the top"}])
    parent = _named_unit(data, "parent", nullable=True)
    if not permissions.may_move_unit(scope(), unit, parent):
        raise deny(caller().actor)
    changed = units.move_unit(unit, parent, actor=caller().actor, origin=audit.request_origin())
    return _changed(unit, changed)


@bp.post("/units/<code>/merge")
@operation(ADMIN_WRITE)
def merge_unit(code: str):
    source = _unit(code)
    target = _named_unit(json_object(), "into")
    if not permissions.may_merge_units(scope(), source, target):
        raise deny(caller().actor)
    result = units.merge_units(source, target, actor=caller().actor, origin=audit.request_origin())
    commit()
    return jsonify(
        {
            "unit": unit_json(source),
            "into": unit_json(target),
            "people": result.people,
            "children": result.children,
        }
    )


@bp.post("/units/<code>/deactivate")
@operation(ADMIN_WRITE)
def deactivate_unit(code: str):
    unit = _unit(code)
    changed = units.deactivate_unit(unit, actor=caller().actor, origin=audit.request_origin())
    return _changed(unit, changed)


def _path_code() -> dict[str, Any]:
    return {
        "name": "code",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    }


CHANGED = {"$ref": "#/components/schemas/UnitChange"}

OPENAPI = {
    "paths": {
        "/units/{code}/rename": {
            "post": operation_doc(
                "Rename a unit (its code stays)",
                ADMIN_WRITE,
                ok=CHANGED,
                parameters=[_path_code()],
                body=(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": UNIT_NAME_MAX_LENGTH,
                            }
                        },
                    }
                ),
                tags=["units"],
                description="One audit event unit.rename. People keep their sub and sessions.",
            )
        },
        "/units/{code}/move": {
            "post": operation_doc(
                "Move a unit and its subtree under another parent",
                ADMIN_WRITE,
                ok=CHANGED,
                parameters=[_path_code()],
                body=(
                    {
                        "type": "object",
                        "required": ["parent"],
                        "properties": {
                            "parent": {
                                "type": ["string", "null"],
                                "description": (
                                    "The new parent's code; null: the top "
                                    "(super-administrators only)"
                                ),
                            }
                        },
                    }
                ),
                tags=["units"],
                description=(
                    "422 for a cycle or an inactive parent; 403 outside the caller's subtrees."
                ),
            )
        },
        "/units/{code}/merge": {
            "post": operation_doc(
                "Merge a unit into another: its people and child units move, it is deactivated",
                ADMIN_WRITE,
                ok={"$ref": "#/components/schemas/UnitMerge"},
                parameters=[_path_code()],
                body=(
                    {
                        "type": "object",
                        "required": ["into"],
                        "properties": {"into": {"type": "string", "minLength": 1}},
                    }
                ),
                tags=["units"],
                description=(
                    "Its unit administrators administer the target. 403 when either unit is "
                    "outside the caller's subtrees."
                ),
            )
        },
        "/units/{code}/deactivate": {
            "post": operation_doc(
                "Deactivate a unit (never deleted)",
                ADMIN_WRITE,
                ok=CHANGED,
                parameters=[_path_code()],
                extra_statuses=(422,),
                tags=["units"],
                description="422 while active people or active child units remain.",
            )
        },
    },
    "components": {
        "schemas": {
            "UnitChange": {
                "type": "object",
                "required": ["unit", "changed"],
                "properties": {
                    "unit": {"$ref": "#/components/schemas/Unit"},
                    "changed": {"type": "boolean", "description": "false: it already was so"},
                },
            },
            "UnitMerge": {
                "type": "object",
                "required": ["unit", "into", "people", "children"],
                "properties": {
                    "unit": {"$ref": "#/components/schemas/Unit"},
                    "into": {"$ref": "#/components/schemas/Unit"},
                    "people": {"type": "integer", "minimum": 0},
                    "children": {"type": "integer", "minimum": 0},
                },
            },
        }
    },
}
