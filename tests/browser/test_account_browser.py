"""The account page in headless Chromium: sessions, applications, sign-out, focus on errors.

Same set-up as test_login_browser.py: a real server on 127.0.0.1 in a thread, SQLite,
Debian's /usr/bin/chromium (skipped without it, except with CI=true).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from helpers.live import Server
from test_login_browser import EMAIL, PASSWORD

pytestmark = pytest.mark.browser

WEBMAIL, VANBAN, SURVEY = "webmail", "vanban", "khaosat"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 "
    "Mobile/15E148 Safari/604.1"
)


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


@pytest.fixture
def idp_server(app, make_user, make_unit, relying_party) -> Iterator[Server]:
    from idp.clients.models import Client
    from idp.extensions import db, utcnow
    from idp.oidc import store

    make_unit("STTTT", "Sở Thông tin và Truyền thông")
    sub = make_user(
        EMAIL, PASSWORD, family_name="Trần", middle_name="Thị", given_name="Bình", unit="STTTT"
    )
    with app.app_context():
        for client_id, name, first_party in (
            (WEBMAIL, "Thư điện tử công vụ", True),
            (VANBAN, "Quản lý văn bản", True),
            (SURVEY, "Khảo sát ý kiến", False),
        ):
            db.session.add(
                Client(
                    client_id=client_id,
                    client_metadata={
                        "client_name": name,
                        "redirect_uris": [relying_party.url + "/cb"],
                        "grant_types": ["authorization_code"],
                        "response_types": ["code"],
                        "token_endpoint_auth_method": "none",
                        "scope": "openid profile email",
                    },
                    first_party=first_party,
                )
            )
        from idp.directory.store import find_user_by_sub

        user = find_user_by_sub(sub)
        store.save_consent(user.id, SURVEY, ["openid", "email"], [], utcnow())
        db.session.commit()
    with Server(app) as server:
        yield server


def _authorize_url(server: Server, relying_party: Server, client_id: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": relying_party.url + "/cb",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return server.url + "/oauth2/authorize?" + urlencode(params)


def _sign_in(page, server: Server, english: bool = False) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("E-mail address" if english else "Địa chỉ thư điện tử").fill(EMAIL)
    page.get_by_label("Password" if english else "Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Sign in" if english else "Đăng nhập").click()
    page.wait_for_url(server.url + "/account/")


def _screenshot(page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("IDP_TEST_SCREENSHOTS", tmp_path))
    page.screenshot(path=str(folder / name), full_page=True)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_account_page_with_two_sessions_and_their_applications(
    browser, idp_server, relying_party, tmp_path, lang
):
    english = lang == "en"
    locale = "en-GB" if english else "vi-VN"
    phone = browser.new_context(locale=locale, user_agent=IPHONE)
    laptop = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    try:
        other = phone.new_page()
        _sign_in(other, idp_server, english)
        page = laptop.new_page()
        _sign_in(page, idp_server, english)
        for client_id in (WEBMAIL, VANBAN):
            page.goto(_authorize_url(idp_server, relying_party, client_id))
            page.wait_for_url(relying_party.url + "/cb?*")
        page.goto(idp_server.url + "/account/")
        _screenshot(page, tmp_path, f"account-{lang}.png")
        # Each session is its own bordered box, apart from the next one.
        boxes = []
        for item in page.locator("#sso-sessions > li").all():
            style = item.evaluate("e => getComputedStyle(e).borderTopWidth")
            assert float(style.removesuffix("px")) >= 1
            boxes.append(item.bounding_box())
        assert len(boxes) == 2
        assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"] + 8
        # "Every device" is a section below the list, set apart from the last session.
        end_all = page.locator("#end-all").bounding_box()
        assert end_all["y"] >= boxes[1]["y"] + boxes[1]["height"] + 16
        # One sign-out button, on this device's session; the other session is ended.
        sign_out = "Sign out" if english else "Đăng xuất"
        assert page.get_by_role("button", name=sign_out, exact=True).count() == 1
        end = "End this session" if english else "Kết thúc phiên này"
        assert page.get_by_role("button", name=end).count() == 1
        # The province's applications the session used are listed, not "none".
        assert page.locator("#signed-in-apps > li").count() == 2
        assert page.locator("#granted-apps > li").count() == 1
    finally:
        phone.close()
        laptop.close()


def test_a_wrong_password_moves_the_focus_to_the_error(browser, idp_server, tmp_path):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    try:
        page.goto(idp_server.url + "/login")
        page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
        page.get_by_label("Mật khẩu").fill("not-the-password")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_selector("#form-error")
        assert page.evaluate("document.activeElement.id") == "form-error"
        assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
        described = page.get_by_label("Mật khẩu").get_attribute("aria-describedby")
        assert described == "form-error"
        assert page.get_by_label("Mật khẩu").get_attribute("aria-invalid") == "true"
        # Empty fields: the first field in error has the focus.
        page.get_by_label("Địa chỉ thư điện tử").fill("")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_selector("#email-error")
        assert page.evaluate("document.activeElement.id") == "email"
        _screenshot(page, tmp_path, "login-error-vi.png")
        # The browser's own request for the icon finds it.
        icon = page.request.get(idp_server.url + "/favicon.ico")
        assert icon.status == 200
        assert not missing, missing
    finally:
        context.close()
