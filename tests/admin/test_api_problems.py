"""Every failure of the admin API is an RFC 9457 problem object, and lists page by keyset."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from helpers.admin_api import API, automation_token, bearer, problem


@pytest.fixture
def token(app, client):
    return automation_token(app, client)


@pytest.fixture
def units(make_unit):
    make_unit("HG", "Tỉnh Hậu Giang", kind="province")
    for n in range(7):
        make_unit(f"HG-{n:02}", f"Đơn vị số {n}", parent="HG")


def test_unknown_path_is_a_404_problem(client, token):
    body = problem(client.get(f"{API}/nothing-here", headers=bearer(token)), 404)
    assert body["type"] == "about:blank" and body["title"] == "Not Found"
    assert body["instance"] == f"{API}/nothing-here"


def test_unknown_unit_is_a_404_problem(client, token):
    problem(client.get(f"{API}/units/NOPE", headers=bearer(token)), 404)


def test_method_not_allowed_is_a_405_problem_with_allow(client, token):
    answer = client.delete(f"{API}/units", headers=bearer(token))
    problem(answer, 405)
    assert "GET" in answer.headers["Allow"]


def test_a_form_post_needs_no_csrf_token_and_gets_a_405_problem(client, token):
    answer = client.post(f"{API}/me", data={"x": "1"}, headers=bearer(token))
    problem(answer, 405)


def test_pages_follow_next_links_to_the_end(client, token, units):
    seen: list[str] = []
    url = f"{API}/units?limit=3"
    pages = 0
    while url:
        answer = client.get(url, headers=bearer(token))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        seen += [u["code"] for u in body["items"]]
        url = body["next"]
        if url:
            assert answer.headers["Link"] == f'<{url}>; rel="next"'
            url = url.removeprefix("http://idp.test")
        pages += 1
    assert pages == 3
    assert seen == ["HG", *(f"HG-{n:02}" for n in range(7))]


def test_filters_narrow_the_list(client, token, units):
    answer = client.get(f"{API}/units?parent=HG&search=s%E1%BB%91%206", headers=bearer(token))
    assert [u["code"] for u in answer.get_json()["items"]] == ["HG-06"]
    answer = client.get(f"{API}/units?search=50%25", headers=bearer(token))
    assert answer.get_json()["items"] == []


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("cursor=garbage", "cursor"),
        # A forged cursor with a number where the code (text) goes: PostgreSQL would refuse
        # to compare them; it must be a 422, never a 500.
        ("cursor=WzVd", "cursor"),
        ("colour=blue", "colour"),
        ("active=yes", "active"),
        ("search=%01", "search"),
        ("search=a&search=b", "search"),
    ],
)
def test_bad_parameters_are_422_naming_each(client, token, query, parameter):
    body = problem(client.get(f"{API}/units?{query}", headers=bearer(token)), 422)
    assert body["type"] == "urn:hg:idp:problem:validation"
    assert [e["parameter"] for e in body["errors"]] == [parameter]


def test_nul_anywhere_is_refused_as_a_problem(client, token):
    # The application refuses NUL in any request before it reaches a view (idp.http).
    problem(client.get(f"{API}/units?search=%00", headers=bearer(token)), 400)
    assert client.get(f"{API}/units/A%00B", headers=bearer(token)).status_code in (400, 404)
    problem(client.get(f"{API}/units/A%01B", headers=bearer(token)), 404)


def test_cursor_is_opaque_but_stable(client, token, units):
    first = client.get(f"{API}/units?limit=2", headers=bearer(token)).get_json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    again = client.get(f"{API}/units?limit=2&cursor={cursor}", headers=bearer(token))
    assert [u["code"] for u in again.get_json()["items"]] == ["HG-01", "HG-02"]


@pytest.mark.parametrize("app_config", [{"RATE_LIMIT_ADMIN_API": "2 per minute"}])
def test_over_the_limit_is_a_429_problem_with_retry_after(client, token):
    for _ in range(2):
        assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
    answer = client.get(f"{API}/me", headers=bearer(token))
    problem(answer, 429)
    assert int(answer.headers["Retry-After"]) >= 1


# ---------------------------------------------------------------- the framework's mappings


def test_domain_exceptions_become_their_problems(app):
    from idp.admin.api.problems import as_problem
    from idp.clients.metadata import InvalidClientMetadata
    from idp.errors import Conflict, NotFound

    with app.test_request_context(f"{API}/x"):
        assert as_problem(NotFound("no such person")).status == 404
        conflict = as_problem(Conflict("the unit has people"))
        assert (conflict.status, conflict.kind) == (409, "conflict")
        invalid = as_problem(InvalidClientMetadata("scope", "bad"))
        assert invalid.status == 422
        assert invalid.errors == [{"detail": "scope: bad", "pointer": "/scope"}]


@pytest.mark.parametrize(
    "content_type, body, status",
    [
        ("text/plain", "{}", 415),
        ("application/x-www-form-urlencoded", "a=1", 415),
        ("application/json", "{not json", 400),
        ("application/json", "[1, 2]", 422),
    ],
)
def test_json_bodies_are_refused_as_problems(app, content_type, body, status):
    from idp.admin.api.bodies import json_object
    from idp.admin.api.problems import Problem

    with app.test_request_context(f"{API}/x", method="POST", data=body, content_type=content_type):
        with pytest.raises(Problem) as refused:
            json_object()
        assert refused.value.status == status


def test_an_unexpected_exception_is_a_problem_without_detail(app, caplog):
    from idp.admin.api.problems import handle

    with app.test_request_context(f"{API}/x"):
        response = handle(RuntimeError("secret detail"))
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "secret detail" not in response.get_data(as_text=True)
