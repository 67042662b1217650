"""The help desk's contact (SUPPORT_*) on the sign-in page, the error pages and every page's
foot, never promised when unset; the favicon; the focus on the first error."""

from __future__ import annotations

import re

import pytest

SUPPORT = {
    "SUPPORT_EMAIL": "hotro@haugiang.gov.vn",
    "SUPPORT_PHONE": "0293 3878 787",
    "SUPPORT_URL": "https://hotro.haugiang.gov.vn/",
}


def _pages(client, auth, make_user) -> dict[str, str]:
    make_user()
    pages = {
        "login": client.get("/login").get_data(as_text=True),
        "404": client.get("/nowhere").get_data(as_text=True),
        "bad client": client.get("/oauth2/authorize?client_id=nobody&response_type=code").get_data(
            as_text=True
        ),
    }
    auth.login()
    pages["account"] = client.get("/account/").get_data(as_text=True)
    return pages


def test_without_a_contact_no_page_promises_one(client, auth, make_user):
    for name, html in _pages(client, auth, make_user).items():
        assert "liên hệ" not in html.lower(), name
        assert 'class="support"' not in html and "mailto:" not in html, name


@pytest.mark.parametrize("app_config", [SUPPORT])
def test_the_contact_is_on_the_sign_in_page_the_error_pages_and_the_account_page(
    client, auth, make_user
):
    for name, html in _pages(client, auth, make_user).items():
        assert html.count('class="support"') == 1, name
        assert '<a href="mailto:hotro@haugiang.gov.vn">hotro@haugiang.gov.vn</a>' in html, name
        assert '<a href="tel:02933878787">0293 3878 787</a>' in html, name
        assert 'href="https://hotro.haugiang.gov.vn/"' in html and "Trang hỗ trợ" in html, name
    english = client.get("/nowhere", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "If the problem persists, contact the help desk:" in english
    assert "Help page" in english


@pytest.mark.parametrize("app_config", [{"SUPPORT_EMAIL": "hotro@haugiang.gov.vn"}])
def test_only_the_parts_given_are_shown(client):
    html = client.get("/login").get_data(as_text=True)
    support = html.split('class="support"')[1].split("</p>")[0]
    assert "mailto:hotro@haugiang.gov.vn" in support
    assert "tel:" not in support and "Trang hỗ trợ" not in support and "·" not in support


def test_favicon(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == bytes([0, 0, 1, 0])  # an ICO file
    assert "max-age=604800" in icon.headers["Cache-Control"]
    assert "default-src 'self'" in icon.headers["Content-Security-Policy"]
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<script" not in svg.data


def test_the_first_error_is_focused_and_described(client, auth, make_user):
    make_user()
    token = auth.csrf_token()
    html = client.post(
        "/login",
        data={"email": "nguyen.van.an@haugiang.gov.vn", "password": "sai", "csrf_token": token},
    ).get_data(as_text=True)
    assert re.search(
        r'<div class="alert" role="alert" id="form-error" tabindex="-1" autofocus>', html
    )
    assert html.count("autofocus") == 1
    for field in ("email", "password"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html).group(0)
        assert 'aria-describedby="form-error"' in tag and 'aria-invalid="true"' in tag
    html = client.post("/login", data={"email": "", "password": "", "csrf_token": token}).get_data(
        as_text=True
    )
    email = re.search(r'<input[^>]*id="email"[^>]*>', html).group(0)
    assert "autofocus" in email and 'aria-invalid="true"' in email
    assert html.count("autofocus") == 1
    # A form sent after its token expired: the error page's message has the focus.
    html = client.post("/login", data={"email": "a@b.vn", "password": "x"}).get_data(as_text=True)
    assert re.search(r'role="alert" id="error-message" tabindex="-1" autofocus', html)
