"""Numbers in the console's and the admin API's query strings that Python's str.isdigit()
calls digits but int() cannot read ("²"; or reads, "١٢"), and cursors beyond the audit log's
INTEGER id (PostgreSQL's "integer out of range"): a 400 (console) or a 422 problem (API),
never a 500."""

from __future__ import annotations

import pytest
from helpers.admin import make_admin
from helpers.admin_api import API, automation_token, bearer, problem

NOT_NUMBERS = ("²", "١٢", "₁")


@pytest.mark.parametrize(
    "path",
    [f"/admin/audit?before={n}" for n in (*NOT_NUMBERS, "2147483648", "999999999999999999")]
    + [f"/admin/people?offset={n}" for n in NOT_NUMBERS],
)
def test_console_numbers_that_are_not_numbers_or_no_id(app, client, make_user, path):
    make_admin(app, make_user, client)
    assert client.get(path).status_code == 400, path


@pytest.mark.parametrize(
    "path",
    ["/admin/audit?before=2147483647"]
    + [f"/admin/audit.csv?before={n}" for n in (*NOT_NUMBERS, "99999999999")],
)
def test_console_numbers_beyond_any_id(app, client, make_user, path):
    """An id no event has: an empty page (the CSV export has no `before`: ignored)."""
    make_admin(app, make_user, client)
    answer = client.get(path)
    assert answer.status_code == 200, path
    answer.get_data()


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_api_limit_that_is_not_a_number(app, client, value):
    token = automation_token(app, client)
    for path in ("/people", "/units", "/audit", "/clients"):
        problem(client.get(f"{API}{path}?limit={value}", headers=bearer(token)), 422)
