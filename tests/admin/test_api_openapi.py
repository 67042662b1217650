"""The admin API's OpenAPI 3.1 document matches the implementation: every route is in it with
its methods (and nothing else is), and schemathesis calls every operation it lists with
generated input, with real tokens, finding no 5xx and no answer outside the document.

The schemathesis run covers operations added later without any change here: it iterates over
the document, which is assembled from every resource module."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from helpers.admin import grant_unit
from helpers.admin_api import API, automation_token, bearer, make_tool_client, person_token
from helpers.people import PASSWORD
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Short: the suite runs it on every change (a longer run: SCHEMATHESIS_EXAMPLES=200).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
# Methods Flask adds to every route by itself.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def app_config():
    # Generated input fails on purpose, often: the failure limit would answer 429 early.
    return {"RATE_LIMIT_FAILURES": "100000 per minute", "RATE_LIMIT_ADMIN_API": "100000 per minute"}


def _routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin_api.") and rule.endpoint != "admin_api.openapi_document":
            # Flask's <name> and <converter:name> are OpenAPI's {name}.
            path = re.sub(r"<(?:[^:<>]+:)?([^:<>]+)>", r"{\1}", rule.rule.removeprefix(API))
            routes.setdefault(path, set()).update(
                m.lower() for m in rule.methods - IMPLICIT_METHODS
            )
    return routes


def test_document_and_routes_agree(sqlite_app):
    document = sqlite_app.test_client().get(f"{API}/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://idp.test/admin/api/v1"}]
    documented = {path: set(item) for path, item in document["paths"].items()}
    assert documented == _routes(sqlite_app)


def test_every_operation_declares_its_scope_and_problems(sqlite_app):
    document = sqlite_app.test_client().get(f"{API}/openapi.json").get_json()
    flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
    assert set(flows["clientCredentials"]["scopes"]) == {"admin:read", "admin:write"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            [requirement] = operation["security"]
            assert requirement["oauth2"] in (["admin:read"], ["admin:write"]), (path, method)
            for status in ("401", "403", "429"):
                content = operation["responses"][status]["content"]
                assert "application/problem+json" in content, (path, method, status)


def test_every_view_is_an_operation(sqlite_app):
    """Each view of the blueprint (the document aside) checks a bearer token first."""
    for endpoint, view in sqlite_app.view_functions.items():
        if endpoint.startswith("admin_api.") and endpoint != "admin_api.openapi_document":
            wrapped = view
            while not hasattr(wrapped, "admin_api_scope") and hasattr(wrapped, "__wrapped__"):
                wrapped = wrapped.__wrapped__
            assert hasattr(wrapped, "admin_api_scope"), endpoint


@pytest.fixture
def api_schema(app, make_user, make_unit):
    """The live document of an application with units, a super-administrator automation
    client and a unit administrator's token (schemathesis calls with both)."""
    make_unit("HG", "Tỉnh Hậu Giang", kind="province")
    make_unit("VT", "Thành phố Vị Thanh", kind="district", parent="HG")
    make_unit("VT-P1", "Phường I", kind="ward", parent="VT")
    make_unit("NB", "Thành phố Ngã Bảy", kind="district", parent="HG")
    http = app.test_client()
    make_tool_client(app)
    make_user("it.vithanh@haugiang.gov.vn", password=PASSWORD, unit="VT")
    grant_unit(app, "it.vithanh@haugiang.gov.vn", "VT")
    app.config["SCHEMATHESIS_TOKENS"] = [
        automation_token(app, http),
        person_token(app, http, "it.vithanh@haugiang.gov.vn"),
    ]
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    schema.hook(_real_cursor(http, app.config["SCHEMATHESIS_TOKENS"][0]))
    return schema


def _real_cursor(http, token: str):
    """A `cursor` is opaque: one made up is refused (422, as tests/admin/test_api_paging.py
    checks). Generated cursors are replaced by a real one of the same list (its first
    page's `next`), or dropped when the list has a single page."""
    cursors: dict[str, str | None] = {}

    def map_query(context, query):
        if not query or "cursor" not in query:
            return query
        path = API + context.operation.path
        if path not in cursors:
            page = http.get(f"{path}?limit=1", headers=bearer(token)).get_json()
            following = page.get("next") if isinstance(page, dict) else None
            cursors[path] = parse_qs(urlsplit(following).query)["cursor"][0] if following else None
        query = dict(query)
        if cursors[path] is None:
            del query["cursor"]
        else:
            query["cursor"] = cursors[path]
        return query

    return map_query


def test_every_operation_conforms_to_the_document(api_schema, app):
    """Each operation of the document in turn (schemathesis's own pytest loader does not
    work under pytest 9, so the operations are iterated here)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 3
    tokens = app.config["SCHEMATHESIS_TOKENS"]
    for operation in operations:
        # An operation whose body passes rules no JSON schema states (its document says
        # which) may refuse a schema-valid body with 422: every other check still runs.
        excluded = (
            [positive_data_acceptance]
            if operation.definition.raw.get("x-validated-beyond-schema")
            else []
        )

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case):
            for token in tokens:
                case.call_and_validate(headers=bearer(token), excluded_checks=excluded)

        conforms()
