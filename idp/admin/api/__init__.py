"""The JSON admin API at /admin/api/v1: the console's operations for programs.

How a part of the API is added (people, applications, units ...):

1. A module in idp/admin/api/resources/ (loaded automatically) adds its views to
   `idp.admin.api.blueprint.bp` and declares each with `@operation(ADMIN_READ)` or
   `@operation(ADMIN_WRITE)` (idp.admin.api.auth: the bearer token, its scope, the caller's
   administration scope from idp.admin.permissions, 401/403 and their audit events).
2. The view asks `scope()` what the caller may act on (AdminScope.filter_users,
   filter_units, covers_user, covers_unit); an object outside it is `raise deny(actor)`.
   It calls the same service function as the console's page, with `caller().actor` as the
   audit actor, and commits once (`idp.extensions.commit`).
3. Lists use idp.admin.api.paging (`parse_query`, `page_of`: limit, opaque keyset cursor,
   `next` link, declared filters); bodies idp.admin.api.bodies (`json_object`).
4. Failures raise `Problem` (idp.admin.api.problems) or a domain exception of idp.errors
   (NotFound 404, Conflict 409, ValidationFailed 422); every error, from any source, is
   answered as an RFC 9457 problem object, never a page or a 500 with detail.
5. The module's `OPENAPI` fragment describes its paths and schemas (idp.admin.api.openapi,
   `operation_doc` adds the security requirement and the problem responses); the document
   is served at /admin/api/v1/openapi.json. tests/admin/api/test_openapi.py checks that
   routes and document agree, and runs schemathesis over every operation the document lists.

The API is CSRF-exempt: it reads no cookie, only the bearer token. Successful calls are
limited per token (RATE_LIMIT_ADMIN_API), failures per client address with the protocol
endpoints' (RATE_LIMIT_FAILURES).
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from types import ModuleType
from typing import Any

from flask import Flask, current_app, jsonify, request

from idp import errors, limits
from idp.admin.api import problems, resources
from idp.admin.api.blueprint import API_PREFIX, bp
from idp.extensions import csrf

OPENAPI_KEY = "idp.admin.api.openapi"


def resource_modules() -> list[ModuleType]:
    """Every module of idp.admin.api.resources, imported (their views join `bp`)."""
    return [
        importlib.import_module(f"{resources.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(resources.__path__), key=lambda i: i.name)
    ]


def _fragments() -> list[dict[str, Any]]:
    return [module.OPENAPI for module in resource_modules() if hasattr(module, "OPENAPI")]


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document (public: it says what exists, not what anyone holds)."""
    # lazy: the document reads every resource module, loaded by init_app
    from idp.admin.api.openapi import assemble

    document = current_app.extensions.get(OPENAPI_KEY)
    if document is None:
        document = current_app.extensions[OPENAPI_KEY] = assemble(_fragments())
    return jsonify(document)


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def token_key() -> str:
    """The admin API's calls are counted per access token (its hash), else per address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "admin-token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return limits.address_key()


def init_app(app: Flask) -> None:
    resource_modules()
    app.register_blueprint(bp)
    csrf.exempt(bp)
    # Errors raised in the API's views are the blueprint's; those raised before a view is
    # found (unknown path, method not allowed) reach the application's handlers, which hand
    # every path under the prefix back here.
    errors.own_errors(app, API_PREFIX, problems.handle)
    for endpoint in list(app.view_functions):
        if endpoint.startswith(bp.name + ".") and endpoint != f"{bp.name}.openapi_document":
            limits.limit(app, endpoint, "RATE_LIMIT_ADMIN_API", key_func=token_key)
