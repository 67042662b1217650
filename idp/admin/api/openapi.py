"""The OpenAPI 3.1 document at /admin/api/v1/openapi.json, assembled from fragments.

Each resource module (idp/admin/api/resources/*.py) declares, beside its views, the part of
the document that describes them in a module-level `OPENAPI` dict:

    OPENAPI = {
        "paths": {"/units": {"get": operation_doc(
            "List units", ADMIN_READ, ok=page_schema("#/components/schemas/Unit"),
            parameters=query_parameters(FILTERS), tags=["units"])}},
        "components": {"schemas": {"Unit": {...}}},
    }

Paths are relative to the API's prefix (the document's `servers` entry). `operation_doc`
adds what every operation shares: the security requirement for its scope and the problem
responses it can give (400, 401, 403, 429, plus 404 with path parameters, 415 and 422 with a
body, 422 with query parameters). `assemble` merges the fragments with the common parts
(the Problem schema, the security schemes) and refuses a path or schema declared twice; the
tests check that every route of the blueprint is in the document with its methods and the
reverse, and run schemathesis over every operation it lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app

from idp.admin.api.blueprint import API_PREFIX
from idp.admin.api.problems import PROBLEM_MIMETYPE, PROBLEM_TYPES, URN
from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
PROBLEM_REF = "#/components/schemas/Problem"

_STATUS_TEXT = {
    400: "Malformed request (e.g. an Authorization header of another scheme).",
    401: "No access token, or one that is invalid, expired or revoked, or from a sign-in "
    "without a second factor (WWW-Authenticate says which).",
    403: "The token lacks the scope, or its holder does not administer this "
    "(an admin.denied audit event).",
    404: "No such resource.",
    409: "Conflicts with the current state.",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    422: "Invalid fields or query parameters (see `errors`).",
    429: "Too many requests (see Retry-After).",
}


def problem_response(status: int) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if status in (401, 403):
        headers["WWW-Authenticate"] = {"schema": {"type": "string"}}
    if status == 429:
        headers["Retry-After"] = {"schema": {"type": "string"}}
    response: dict[str, Any] = {
        "description": _STATUS_TEXT[status],
        "content": {PROBLEM_MIMETYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if headers:
        response["headers"] = headers
    return response


def operation_doc(
    summary: str,
    scope: str,
    *,
    ok: Mapping[str, Any] | None = None,
    ok_status: int = 200,
    parameters: Iterable[Mapping[str, Any]] = (),
    body: Mapping[str, Any] | None = None,
    extra_statuses: Iterable[int] = (),
    tags: Iterable[str] = (),
    description: str = "",
) -> dict[str, Any]:
    """One operation: its answer `ok` (a schema) with the problem responses it can give."""
    if scope not in (ADMIN_READ, ADMIN_WRITE):
        raise ValueError(f"unknown admin API scope {scope!r}")
    parameters = [dict(p) for p in parameters]
    statuses = {400, 401, 403, 429, *extra_statuses}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if any(p.get("in") == "query" for p in parameters):
        statuses.add(422)
    doc: dict[str, Any] = {
        "summary": summary,
        "security": [{"oauth2": [scope]}],
        "responses": {},
    }
    if description:
        doc["description"] = description
    if tags:
        doc["tags"] = list(tags)
    if parameters:
        doc["parameters"] = parameters
    if body is not None:
        statuses |= {413, 415, 422}
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    success: dict[str, Any] = {"description": "OK"}
    if ok is not None:
        success["content"] = {"application/json": {"schema": dict(ok)}}
    doc["responses"][str(ok_status)] = success
    for status in sorted(statuses):
        doc["responses"][str(status)] = problem_response(status)
    return doc


def _problem_schema() -> dict[str, Any]:
    types = ["about:blank", *(URN + slug for slug in PROBLEM_TYPES)]
    return {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail", "instance"],
        "properties": {
            "type": {"type": "string", "enum": types},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {
                        "detail": {"type": "string"},
                        "pointer": {"type": "string", "description": "RFC 6901, into the body"},
                        "parameter": {"type": "string", "description": "a query parameter"},
                    },
                },
            },
        },
    }


def _security_schemes(issuer: str) -> dict[str, Any]:
    scopes = {
        ADMIN_READ: "Read what the token's holder administers.",
        ADMIN_WRITE: "Read and change what the token's holder administers.",
    }
    return {
        "oauth2": {
            "type": "oauth2",
            "description": "Access tokens from this provider's token endpoint. A person's "
            "token (authorization code) acts as that person; a client_credentials token acts "
            "as a super-administrator only for a client registered with admin_automation.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{issuer}/oauth2/authorize",
                    "tokenUrl": f"{issuer}/oauth2/token",
                    "scopes": scopes,
                },
                "clientCredentials": {"tokenUrl": f"{issuer}/oauth2/token", "scopes": scopes},
            },
        },
    }


def _merge(target: dict[str, Any], part: Mapping[str, Any], where: str) -> None:
    for name, value in part.items():
        if name in target:
            raise ValueError(f"admin API document: {where} {name!r} is declared twice")
        target[name] = value


def assemble(fragments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole document from the resource modules' fragments."""
    issuer = current_app.config["ISSUER"]
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": _problem_schema()}
    for fragment in fragments:
        _merge(paths, fragment.get("paths", {}), "path")
        _merge(schemas, fragment.get("components", {}).get("schemas", {}), "schema")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Identity provider admin API",
            "version": API_VERSION,
            "description": "Administration of people, units and applications within the "
            "caller's scope. Errors are RFC 9457 problem objects. See docs/admin.md.",
        },
        "servers": [{"url": issuer + API_PREFIX}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": _security_schemes(issuer),
        },
    }
