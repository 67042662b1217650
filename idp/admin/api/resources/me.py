"""GET /me: who the token acts as, and what it may do. A client's first call, to check its
token and the scope it was given."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from idp.admin import permissions
from idp.admin.api.auth import caller, operation
from idp.admin.api.blueprint import bp
from idp.admin.api.openapi import operation_doc
from idp.admin.permissions import ADMIN_READ


def me_json() -> dict[str, Any]:
    who = caller()
    person = who.person
    return {
        "actor": who.actor,
        "kind": "person" if person is not None else "automation",
        "client_id": who.token.client_id,
        "scopes": sorted(s for s in who.token.scopes if s in permissions.ADMIN_SCOPES),
        "super_administrator": who.scope.is_super,
        "units": (
            [unit.code for unit in permissions.administered_units(person)]
            if person is not None and not who.scope.is_super
            else []
        ),
        "person": (
            {"sub": person.sub, "name": person.name, "email": person.email}
            if person is not None
            else None
        ),
    }


@bp.get("/me")
@operation(ADMIN_READ)
def me():
    return jsonify(me_json())


OPENAPI = {
    "paths": {
        "/me": {
            "get": operation_doc(
                "Who the access token acts as",
                ADMIN_READ,
                ok={"$ref": "#/components/schemas/Me"},
                tags=["me"],
                description="The person (or automation client) the token acts as, its admin "
                "scopes, and the units whose subtrees it administers (empty for a "
                "super-administrator, who administers everything).",
            )
        }
    },
    "components": {
        "schemas": {
            "Me": {
                "type": "object",
                "required": [
                    "actor",
                    "kind",
                    "client_id",
                    "scopes",
                    "super_administrator",
                    "units",
                    "person",
                ],
                "properties": {
                    "actor": {"type": "string", "description": "sub or client_id in audit"},
                    "kind": {"type": "string", "enum": ["person", "automation"]},
                    "client_id": {"type": "string"},
                    "scopes": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(permissions.ADMIN_SCOPES)},
                    },
                    "super_administrator": {"type": "boolean"},
                    "units": {"type": "array", "items": {"type": "string"}},
                    "person": {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["sub", "name", "email"],
                                "properties": {
                                    "sub": {"type": "string"},
                                    "name": {"type": "string"},
                                    "email": {"type": "string"},
                                },
                            },
                        ]
                    },
                },
            }
        }
    },
}
