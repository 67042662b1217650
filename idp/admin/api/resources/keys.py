"""Signing keys in the admin API: list and rotate (`idp keys list`, `idp keys rotate`).
Super-administrators only."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from idp import audit
from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.bodies import json_object
from idp.admin.api.openapi import operation_doc
from idp.admin.api.paging import page_schema, parse_query
from idp.admin.api.problems import Problem, field_errors
from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE
from idp.extensions import commit
from idp.keys.models import SigningKey
from idp.keys.ring import SUPPORTED_ALGS, KeyRingError, ensure_keys, list_keys, rotate


def _super_only() -> None:
    if not scope().is_super:
        raise deny(caller().actor, "Keys are for provincial super-administrators.")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def key_json(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created_at": _iso(key.created_at),
        "activated_at": _iso(key.activated_at),
        "retired_at": _iso(key.retired_at),
        "remove_after": _iso(key.remove_after),
    }


@bp.get("/keys")
@operation(ADMIN_READ)
def list_signing_keys():
    _super_only()
    parse_query((), key_types=(str,))
    if ensure_keys():
        commit()
    return jsonify({"items": [key_json(k) for k in list_keys()], "next": None})


@bp.post("/keys/rotate")
@operation(ADMIN_WRITE)
def rotate_signing_key():
    """The next key becomes current; refused (409) while it is newly published, unless
    forced."""
    _super_only()
    data = json_object()
    alg, force = data.get("alg"), data.get("force", False)
    configured = list(current_app.config["KEY_ALGORITHMS"])
    errors = []
    if alg not in SUPPORTED_ALGS:
        errors.append({"pointer": "/alg", "detail": f"must be one of {', '.join(SUPPORTED_ALGS)}"})
    elif alg not in configured:
        # Valid, but this provider signs with other algorithms (KEY_ALGORITHMS).
        raise Problem(409, f"{alg} is not in KEY_ALGORITHMS ({', '.join(configured)}).")
    if not isinstance(force, bool):
        errors.append({"pointer": "/force", "detail": "must be true or false"})
    if errors:
        raise field_errors(errors)
    try:
        result = rotate(alg, force=force)
    except KeyRingError as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    audit.record(
        "keys.rotate",
        actor=caller().actor,
        subject=result.current,
        detail={"alg": alg, "retired": result.retired, "next": result.next, "forced": force},
        **audit.request_origin(),
    )
    commit()
    return jsonify(result.__dict__)


OPENAPI = {
    "paths": {
        "/keys": {
            "get": operation_doc(
                "List the signing keys",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/SigningKey"),
                tags=["keys"],
                description="Super-administrators only.",
            )
        },
        "/keys/rotate": {
            "post": operation_doc(
                "Rotate the signing key of an algorithm",
                ADMIN_WRITE,
                ok={
                    "type": "object",
                    "required": ["alg", "retired", "current", "next"],
                    "properties": {
                        "alg": {"type": "string"},
                        "retired": {"type": ["string", "null"]},
                        "current": {"type": "string"},
                        "next": {"type": "string"},
                    },
                },
                body={
                    "type": "object",
                    "required": ["alg"],
                    "properties": {
                        "alg": {"type": "string", "enum": list(SUPPORTED_ALGS)},
                        "force": {"type": "boolean"},
                    },
                },
                extra_statuses=(409,),
                tags=["keys"],
                description="As `idp keys rotate`: 409 while the next key has been published "
                "for less than KEY_PUBLISH_SECONDS, unless forced, and for an algorithm the "
                "provider does not sign with (KEY_ALGORITHMS). Super-administrators only.",
            )
        },
    },
    "components": {
        "schemas": {
            "SigningKey": {
                "type": "object",
                "required": ["kid", "alg", "state", "created_at"],
                "properties": {
                    "kid": {"type": "string"},
                    "alg": {"type": "string"},
                    "state": {"type": "string", "enum": ["next", "current", "retired"]},
                    "created_at": {"type": ["string", "null"]},
                    "activated_at": {"type": ["string", "null"]},
                    "retired_at": {"type": ["string", "null"]},
                    "remove_after": {"type": ["string", "null"]},
                },
            }
        }
    },
}
