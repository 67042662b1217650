"""No bad input ever gets a 500 or a stack trace; people get a readable page in their language.

The battery walks every route of the application (including ones added later), on SQLite and
PostgreSQL, anonymous and signed in.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from helpers.logs import idp_records
from helpers.pages import csrf_token

from idp.audit import AuditEvent
from idp.extensions import db

ONE_MIB = 1024 * 1024


def _path(rule) -> str:
    def value(match: re.Match) -> str:
        converter = match.group(1) or ""
        if converter.startswith(("int", "float")):
            return "1"
        if rule.endpoint == "static":
            return "style.css"
        return "x%C3%A0%00"

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", value, rule.rule)


def _bad_requests(csrf_token: str) -> list[tuple[str, dict]]:
    """(description, keyword arguments for client.open) for every kind of bad input."""
    long = "a" * 100_000
    return [
        (
            "invalid utf-8 and percent-encoding in query",
            {"query_string": "next=%ff%fe&ui_locales=%zz&x=%"},
        ),
        ("NUL bytes in query", {"query_string": "next=/%00&login_hint=a%00b&ui_locales=%00"}),
        ("long query values", {"query_string": {"next": "/" + long, "login_hint": long}}),
        (
            "garbage headers",
            {
                "headers": {
                    "Accept-Language": "\x7f;;q=abc,*;q=-1",
                    "Accept": "*/*;q=x",
                    "Cookie": "idp_sso=%00%ff; idp_lang=\x01; idp_ui=garbage",
                    "User-Agent": "x\x00y",
                }
            },
        ),
        (
            "invalid form encoding",
            {
                "method": "POST",
                "data": b"email=%zz%ff&password=%00&csrf_token=" + csrf_token.encode(),
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        (
            "NUL bytes in form",
            {
                "method": "POST",
                "data": {
                    "email": "an\x00@haugiang.gov.vn",
                    "password": "p\x00w",
                    "next": "/\x00",
                    "csrf_token": csrf_token,
                },
            },
        ),
        (
            "very long e-mail and password",
            {
                "method": "POST",
                "data": {
                    "email": long + "@haugiang.gov.vn",
                    "password": long,
                    "csrf_token": csrf_token,
                },
            },
        ),
        (
            "oversize field",
            {"method": "POST", "data": {"email": "a" * (ONE_MIB // 2), "csrf_token": csrf_token}},
        ),
        ("oversize body", {"method": "POST", "data": {"email": "a" * (2 * ONE_MIB)}}),
        (
            "form posted as JSON object",
            {
                "method": "POST",
                "headers": {"X-CSRFToken": csrf_token},
                "data": json.dumps({"email": "a@b.vn", "password": "x"}),
                "content_type": "application/json",
            },
        ),
        (
            "form posted as JSON array",
            {
                "method": "POST",
                "headers": {"X-CSRFToken": csrf_token},
                "data": "[1, 2, 3]",
                "content_type": "application/json",
            },
        ),
        (
            "NUL characters in JSON",
            {
                "method": "POST",
                "headers": {"X-CSRFToken": csrf_token},
                "data": json.dumps(
                    {
                        "email": "a\x00@b.vn",
                        "redirect_uris": ["https://a\x00.vn/cb"],
                        "client_name": "\x00",
                        "password": "\x00",
                    }
                ),
                "content_type": "application/json",
            },
        ),
        (
            "invalid JSON",
            {
                "method": "POST",
                "headers": {"X-CSRFToken": csrf_token},
                "data": b"{\xff",
                "content_type": "application/json",
            },
        ),
        (
            "multipart without boundary",
            {"method": "POST", "data": b"--x\r\n", "content_type": "multipart/form-data"},
        ),
        (
            "repeated and unknown fields",
            {
                "method": "POST",
                "data": b"email=a&email=b&remember=maybe&zz=1&csrf_token=" + csrf_token.encode(),
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        ("wrong method PUT", {"method": "PUT", "data": "x"}),
        ("wrong method DELETE", {"method": "DELETE"}),
        ("wrong method PATCH", {"method": "PATCH", "data": "x"}),
    ]


def _battery(app, client) -> list[str]:
    page = client.get("/login").get_data(as_text=True)
    token = csrf_token(page)
    failures = []
    paths = sorted({_path(rule) for rule in app.url_map.iter_rules()})
    assert "/login" in paths and "/account/" in paths
    for path in [*paths, "/%ff%00", "/account/%ff", "/" + "x" * 5000]:
        for what, kwargs in [("plain GET", {}), *_bad_requests(token)]:
            response = client.open(path, **kwargs)
            body = response.get_data().decode("utf-8", "replace")  # /favicon.ico is binary
            if response.status_code >= 500 and not (
                path == "/readyz" and response.status_code == 503
            ):
                failures.append(
                    f"{kwargs.get('method', 'GET')} {path[:60]} ({what}): {response.status_code}"
                )
            if "Traceback" in body or 'File "' in body:
                failures.append(f"{kwargs.get('method', 'GET')} {path[:60]} ({what}): stack trace")
    return failures


def test_no_bad_input_gets_a_500_anywhere(app, client, make_user):
    make_user()
    assert _battery(app, client) == []


def test_no_bad_input_gets_a_500_when_signed_in(app, client, auth, make_user):
    make_user()
    assert auth.login().status_code == 302
    assert _battery(app, client) == []


@pytest.mark.parametrize(
    "request_kwargs, status, vietnamese, english",
    [
        ({"path": "/no/such/page"}, 404, "Không tìm thấy trang", "Page not found"),
        (
            {"path": "/login", "method": "PUT"},
            405,
            "Phương thức không được hỗ trợ",
            "Method not allowed",
        ),
        (
            {"path": "/login", "method": "POST", "data": {"email": "a" * (2 * ONE_MIB)}},
            413,
            "Dữ liệu quá lớn",
            "Request too large",
        ),
        (
            {"path": "/login", "method": "POST", "data": {}},
            400,
            "Biểu mẫu đã hết hạn",
            "The form has expired",
        ),
    ],
)
def test_error_pages_are_readable_in_the_persons_language(
    sqlite_app, request_kwargs, status, vietnamese, english
):
    client = sqlite_app.test_client()
    vi = client.open(**request_kwargs)
    en = client.open(**request_kwargs, headers={"Accept-Language": "en"})
    assert vi.status_code == en.status_code == status
    vi_html, en_html = vi.get_data(as_text=True), en.get_data(as_text=True)
    assert vi.mimetype == "text/html"
    assert '<html lang="vi">' in vi_html and vietnamese in vi_html
    assert '<html lang="en">' in en_html and english in en_html
    assert 'role="alert"' in vi_html
    assert f"{status}" in vi_html


def test_programs_get_json_errors(sqlite_app):
    client = sqlite_app.test_client()
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "error_description": ""}
    response = client.get("/nowhere", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.is_json


@pytest.fixture
def failing_app(sqlite_app):
    """The app with test-only routes that fail unexpectedly (one after writing to the database)."""

    @sqlite_app.get("/_test/boom")
    def boom():
        raise RuntimeError("secret detail: db password is hunter2")

    @sqlite_app.get("/api/_test/boom")
    def api_boom():
        raise KeyError("secret detail")

    @sqlite_app.get("/_test/write-then-fail")
    def write_then_fail():
        from idp import audit

        audit.record("test", actor="test")
        db.session.flush()
        raise ValueError("after the write")

    return sqlite_app


def test_an_unexpected_error_becomes_a_generic_page_and_a_detailed_log(failing_app, caplog):
    client = failing_app.test_client()
    vi = client.get("/_test/boom")
    en = client.get("/_test/boom", headers={"Accept-Language": "en"})
    assert vi.status_code == en.status_code == 500
    for response in (vi, en):
        html = response.get_data(as_text=True)
        assert "hunter2" not in html and "RuntimeError" not in html and "Traceback" not in html
    assert "Đã xảy ra lỗi" in vi.get_data(as_text=True)
    assert "Something went wrong" in en.get_data(as_text=True)
    # The operators get the detail in the log.
    errors = [r for r in idp_records(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert errors[0].exc_info and isinstance(errors[0].exc_info[1], RuntimeError)
    assert "/_test/boom" in errors[0].getMessage()


def test_an_unexpected_error_on_the_api_is_a_generic_json_server_error(failing_app):
    response = failing_app.test_client().get("/api/_test/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error", "error_description": ""}


def test_a_failed_request_leaves_the_database_as_it_was(failing_app):
    client = failing_app.test_client()
    assert client.get("/_test/write-then-fail").status_code == 500
    with failing_app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="test").count() == 0
