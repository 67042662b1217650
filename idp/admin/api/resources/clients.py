"""Applications in the admin API: list, get, create, update, rotate the secret, disable,
enable; and initial access tokens for dynamic registration. Super-administrators only.

The same service functions as the console's pages (idp.admin.clients_pages) and
`idp clients`, under the administrators' metadata policy: what the form or the command
refuses, the API refuses (422 naming the field). A secret is in the answer to the call
that made it, and never again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, jsonify

from idp.admin import activity
from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.bodies import json_object
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
)
from idp.admin.api.problems import Problem, field_errors
from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE
from idp.clients import initial_access, service
from idp.clients import store as clients_store
from idp.clients.metadata import policy_from_config
from idp.clients.models import Client
from idp.extensions import commit

CLIENT_ID_MAX_LENGTH = 128
# Row ids are INTEGER columns (32 bits on PostgreSQL): a larger number names no row.
MAX_ROW_ID = 2**31 - 1
SETTINGS_FIELDS = ("first_party", "access_token_ttl", "id_token_ttl", "refresh_token_ttl")
FILTERS = (Filter("active", bool_filter, BOOL_SCHEMA, "Only enabled (true) or disabled (false)."),)


def _super_only() -> None:
    if not scope().is_super:
        raise deny(caller().actor, "Applications are for provincial super-administrators.")


def _policy():
    return policy_from_config(current_app.config, dynamic=False)


def _client_or_404(client_id: str) -> Client:
    client = (
        clients_store.find_client(client_id)
        if is_plain_text(client_id, CLIENT_ID_MAX_LENGTH)
        else None
    )
    if client is None:
        raise Problem(404, "No application has this client_id.")
    return client


def client_json(client: Client, last_sign_in=None) -> dict[str, Any]:
    view = service.admin_view(client)
    view["last_sign_in"] = last_sign_in.isoformat() if last_sign_in else None
    return view


def _settings(data: dict[str, Any], client: Client | None) -> service.ClientSettings:
    """The settings in the body; those it leaves out keep their value (or default)."""
    values = {name: getattr(client, name) if client else None for name in SETTINGS_FIELDS}
    values["first_party"] = bool(client.first_party) if client else False
    values.update({name: data[name] for name in SETTINGS_FIELDS if name in data})
    return service.ClientSettings(**values)


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    if "client_secret" in data:
        raise field_errors(
            [{"pointer": "/client_secret", "detail": "secrets are generated, never given"}]
        )
    return {k: v for k, v in data.items() if k not in (*SETTINGS_FIELDS, "client_id")}


def _with_secret(result: service.ClientResult) -> dict[str, Any]:
    body = {"client": client_json(result.client)}
    if result.client_secret:
        body["client_secret"] = result.client_secret
    return body


@bp.get("/clients")
@operation(ADMIN_READ)
def list_clients():
    _super_only()
    query = parse_query(FILTERS, key_types=(str,))
    select = sa.select(Client)
    if "active" in query.filters:
        select = select.where(Client.active.is_(query.filters["active"]))
    return page_of(
        select,
        query.page,
        keys=(Client.client_id,),
        render=client_json,
        key_of=lambda client: (client.client_id,),
    )


@bp.get("/clients/<client_id>")
@operation(ADMIN_READ)
def get_client(client_id: str):
    _super_only()
    client = _client_or_404(client_id)
    last = activity.last_sign_ins([client.client_id]).get(client.client_id)
    return jsonify(client_json(client, last))


@bp.post("/clients")
@operation(ADMIN_WRITE)
def create_client():
    _super_only()
    data = json_object()
    client_id = data.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise field_errors([{"pointer": "/client_id", "detail": "must be a string"}])
    result = service.create_client(
        _metadata(data),
        _policy(),
        actor=caller().actor,
        client_id=client_id or None,
        settings=_settings(data, None),
        source="api",
    )
    commit()
    return jsonify(_with_secret(result)), 201


@bp.patch("/clients/<client_id>")
@operation(ADMIN_WRITE)
def update_client(client_id: str):
    """Merge: fields given replace theirs, null removes one, the others stay."""
    _super_only()
    client = _client_or_404(client_id)
    data = json_object()
    result = service.update_client(
        client.client_id,
        _metadata(data),
        _policy(),
        actor=caller().actor,
        settings=_settings(data, client),
    )
    commit()
    return jsonify(_with_secret(result))


@bp.post("/clients/<client_id>/rotate-secret")
@operation(ADMIN_WRITE)
def rotate_client_secret(client_id: str):
    _super_only()
    client = _client_or_404(client_id)
    try:
        secret = service.rotate_secret(client.client_id, actor=caller().actor)
    except service.ClientError as exc:
        raise Problem(409, str(exc), kind="conflict") from None
    commit()
    return jsonify({"client_id": client.client_id, "client_secret": secret})


def _set_active(client_id: str, active: bool):
    _super_only()
    client = _client_or_404(client_id)
    service.set_active(client.client_id, active, actor=caller().actor)
    commit()
    return jsonify(client_json(client))


@bp.post("/clients/<client_id>/disable")
@operation(ADMIN_WRITE)
def disable_client(client_id: str):
    return _set_active(client_id, False)


@bp.post("/clients/<client_id>/enable")
@operation(ADMIN_WRITE)
def enable_client(client_id: str):
    return _set_active(client_id, True)


# ---------------------------------------------------------------- initial access tokens


def token_json(row, token: str | None = None) -> dict[str, Any]:
    body = {
        "id": row.id,
        "state": initial_access.state(row),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "uses_left": row.uses_left,
        "created_by": row.created_by,
        "note": row.note,
    }
    if token is not None:
        body["token"] = token
    return body


@bp.get("/registration-tokens")
@operation(ADMIN_READ)
def list_registration_tokens():
    _super_only()
    parse_query((), key_types=(int,))
    return jsonify({"items": [token_json(r) for r in initial_access.list_tokens()], "next": None})


def _token_request(data: dict[str, Any]) -> tuple[int, int | None, str]:
    expires_in = data.get("expires_in", initial_access.DEFAULT_EXPIRES_IN_SECONDS)
    uses = data.get("uses", 1)
    note = data.get("note", "")
    errors = []
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        errors.append({"pointer": "/expires_in", "detail": "must be a number of seconds"})
    if uses is not None and (isinstance(uses, bool) or not isinstance(uses, int)):
        errors.append({"pointer": "/uses", "detail": "must be a whole number or null"})
    if not isinstance(note, str):
        errors.append({"pointer": "/note", "detail": "must be a string"})
    if errors:
        raise field_errors(errors)
    return expires_in, uses, note


@bp.post("/registration-tokens")
@operation(ADMIN_WRITE)
def create_registration_token():
    _super_only()
    expires_in, uses, note = _token_request(json_object())
    issued = initial_access.create_token(
        expires_in=expires_in, uses=uses, note=note, actor=caller().actor
    )
    commit()
    return jsonify(token_json(issued.row, issued.token)), 201


@bp.delete("/registration-tokens/<token_id>")
@operation(ADMIN_WRITE)
def revoke_registration_token(token_id: str):
    _super_only()
    valid = token_id.isascii() and token_id.isdigit() and len(token_id) <= 10
    if not valid or int(token_id) > MAX_ROW_ID:
        raise Problem(404, "No registration token has this id.")
    initial_access.revoke_token(int(token_id), actor=caller().actor)
    commit()
    return "", 204


# ---------------------------------------------------------------- the document

_CLIENT_ID_PARAM = {
    "name": "client_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_TOKEN_ID_PARAM = {
    "name": "token_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
_CLIENT = {"$ref": "#/components/schemas/Client"}
_WITH_SECRET = {
    "type": "object",
    "required": ["client"],
    "properties": {
        "client": _CLIENT,
        "client_secret": {"type": "string", "description": "Only when one was generated now."},
    },
}
_BODY = {
    "type": "object",
    "description": "RFC 7591 client metadata under its own names (redirect_uris, grant_types, "
    "scope, token_endpoint_auth_method, backchannel_logout_uri, default_acr_values, "
    "allowed_audiences, ...), with first_party and the *_token_ttl lifetimes in seconds; "
    "on update a null removes a field.",
    "properties": {
        "client_id": {"type": "string"},
        "first_party": {"type": "boolean"},
        "access_token_ttl": {"type": ["integer", "null"]},
        "id_token_ttl": {"type": ["integer", "null"]},
        "refresh_token_ttl": {"type": ["integer", "null"]},
    },
    "additionalProperties": True,
}
_TOKEN = {
    "type": "object",
    "required": ["id", "state", "expires_at", "uses_left", "created_by", "note"],
    "properties": {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": ["valid", "expired", "used"]},
        "expires_at": {"type": ["string", "null"]},
        "uses_left": {"type": ["integer", "null"]},
        "created_by": {"type": "string"},
        "note": {"type": "string"},
        "token": {"type": "string", "description": "Only in the answer that created it."},
    },
}
_SUPER = "Super-administrators only (403 and an audit event for anyone else)."
# Marks an operation whose body passes rules a JSON schema cannot state (a redirect URI's
# scheme and host against the application type, grant types that go together, printable
# text): a body valid against the schema may still be refused, 422 naming the field.
BEYOND_SCHEMA = "x-validated-beyond-schema"


def beyond_schema(doc: dict[str, Any], rules: str) -> dict[str, Any]:
    doc[BEYOND_SCHEMA] = rules
    return doc


OPENAPI = {
    "paths": {
        "/clients": {
            "get": operation_doc(
                "List the applications",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/Client"),
                parameters=query_parameters(FILTERS),
                tags=["clients"],
                description="Ordered by client_id. " + _SUPER,
            ),
            "post": beyond_schema(
                operation_doc(
                    "Register an application",
                    ADMIN_WRITE,
                    ok=_WITH_SECRET,
                    ok_status=201,
                    body=_BODY,
                    extra_statuses=(409,),
                    tags=["clients"],
                    description="The metadata rules of dynamic registration and `idp clients`; "
                    "a generated secret is in this answer only. " + _SUPER,
                ),
                "idp.clients.metadata.validate_metadata",
            ),
        },
        "/clients/{client_id}": {
            "get": operation_doc(
                "One application",
                ADMIN_READ,
                ok=_CLIENT,
                parameters=[_CLIENT_ID_PARAM],
                tags=["clients"],
                description=_SUPER,
            ),
            "patch": beyond_schema(
                operation_doc(
                    "Change an application",
                    ADMIN_WRITE,
                    ok=_WITH_SECRET,
                    parameters=[_CLIENT_ID_PARAM],
                    body=_BODY,
                    tags=["clients"],
                    description="Fields given replace theirs, null removes one. " + _SUPER,
                ),
                "idp.clients.metadata.validate_metadata",
            ),
        },
        "/clients/{client_id}/rotate-secret": {
            "post": operation_doc(
                "Replace the application's secret",
                ADMIN_WRITE,
                ok={
                    "type": "object",
                    "required": ["client_id", "client_secret"],
                    "properties": {
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                    },
                },
                parameters=[_CLIENT_ID_PARAM],
                extra_statuses=(409,),
                tags=["clients"],
                description="The old secret stops working at once; 409 for an application "
                "without a secret. " + _SUPER,
            )
        },
        "/clients/{client_id}/disable": {
            "post": operation_doc(
                "Disable an application",
                ADMIN_WRITE,
                ok=_CLIENT,
                parameters=[_CLIENT_ID_PARAM],
                tags=["clients"],
                description="No sign-ins, no tokens; its tokens are inactive at introspection "
                "and userinfo (docs/admin.md). " + _SUPER,
            )
        },
        "/clients/{client_id}/enable": {
            "post": operation_doc(
                "Enable an application",
                ADMIN_WRITE,
                ok=_CLIENT,
                parameters=[_CLIENT_ID_PARAM],
                tags=["clients"],
                description=_SUPER,
            )
        },
        "/registration-tokens": {
            "get": operation_doc(
                "List the initial access tokens",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/RegistrationToken"),
                tags=["clients"],
                description="Never the tokens themselves. " + _SUPER,
            ),
            "post": beyond_schema(
                operation_doc(
                    "Create an initial access token",
                    ADMIN_WRITE,
                    ok={"$ref": "#/components/schemas/RegistrationToken"},
                    ok_status=201,
                    body={
                        "type": "object",
                        "properties": {
                            "expires_in": {"type": "integer", "minimum": 1, "maximum": 31622400},
                            "uses": {
                                "type": ["integer", "null"],
                                "minimum": 1,
                                "maximum": initial_access.MAX_USES,
                            },
                            "note": {"type": "string", "maxLength": 255},
                        },
                    },
                    tags=["clients"],
                    description="The token is in this answer only (RFC 7591 section 3). " + _SUPER,
                ),
                "the note must be printable text (idp.clients.initial_access.create_token)",
            ),
        },
        "/registration-tokens/{token_id}": {
            "delete": operation_doc(
                "Revoke an initial access token",
                ADMIN_WRITE,
                ok_status=204,
                parameters=[_TOKEN_ID_PARAM],
                tags=["clients"],
                description=_SUPER,
            )
        },
    },
    "components": {
        "schemas": {
            "Client": {
                "type": "object",
                "description": "The registration (RFC 7591 metadata and our settings); "
                "never the secret or its hash.",
                "required": ["client_id", "active", "first_party", "has_secret", "source"],
                "properties": {
                    "client_id": {"type": "string"},
                    "active": {"type": "boolean"},
                    "first_party": {"type": "boolean"},
                    "has_secret": {"type": "boolean"},
                    "source": {"type": "string"},
                    "access_token_ttl": {"type": ["integer", "null"]},
                    "id_token_ttl": {"type": ["integer", "null"]},
                    "refresh_token_ttl": {"type": ["integer", "null"]},
                    "last_sign_in": {"type": ["string", "null"]},
                },
                "additionalProperties": True,
            },
            "RegistrationToken": _TOKEN,
        }
    },
}
