"""GET /unit-tree: the units the caller administers as one nested tree, with the number of
people in each unit (the console's Units page as JSON). A unit administrator gets their
subtrees, each a root; a super-administrator the whole province."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from idp.admin.api.auth import operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.openapi import operation_doc
from idp.admin.api.resources.units import unit_json
from idp.admin.permissions import ADMIN_READ
from idp.directory import units


def node_json(node: dict[str, Any]) -> dict[str, Any]:
    return {
        **unit_json(node["unit"]),
        "people": node["people"],
        "children": [node_json(child) for child in node["children"]],
    }


@bp.get("/unit-tree")
@operation(ADMIN_READ)
def unit_tree():
    return jsonify({"roots": [node_json(node) for node in units.tree(scope().covers_unit)]})


OPENAPI = {
    "paths": {
        "/unit-tree": {
            "get": operation_doc(
                "The units the caller administers, as a tree",
                ADMIN_READ,
                ok={
                    "type": "object",
                    "required": ["roots"],
                    "properties": {
                        "roots": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/UnitNode"},
                        }
                    },
                },
                tags=["units"],
                description="Ordered by code at each level; people counts every account of "
                "the unit itself (not of the units below).",
            )
        }
    },
    "components": {
        "schemas": {
            "UnitNode": {
                "allOf": [{"$ref": "#/components/schemas/Unit"}],
                "type": "object",
                "required": ["people", "children"],
                "properties": {
                    "people": {"type": "integer", "minimum": 0},
                    "children": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/UnitNode"},
                    },
                },
            }
        }
    },
}
