"""A civil servant signs in, sees their account and signs out, in headless Chromium.

A real server runs on 127.0.0.1 (a free port) in a thread, against a freshly migrated SQLite
database; Playwright drives Debian's /usr/bin/chromium. Without chromium the test is skipped,
except with CI=true, where it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.live import Server
from helpers.people import PASSWORD

EMAIL = "tran.thi.binh@haugiang.gov.vn"
NAME = "Trần Thị Bình"

pytestmark = pytest.mark.browser


@pytest.fixture
def idp_server(app, make_user, make_unit, relying_party) -> Iterator[Server]:
    make_unit("STTTT", "Sở Thông tin và Truyền thông")
    make_unit("STTTT-CNTT", "Trung tâm Công nghệ thông tin", kind="office", parent="STTTT")
    make_user(
        EMAIL,
        PASSWORD,
        aliases=["binh.tt@stttt.haugiang.gov.vn"],
        family_name="Trần",
        middle_name="Thị",
        given_name="Bình",
        unit="STTTT-CNTT",
    )
    from flask import redirect

    # Test-only stand-in for the authorization endpoint: answers the signed-in browser with
    # a redirect to the relying party, like /oauth2/authorize will.
    @app.get("/_test/authorize")
    def fake_authorize():
        return redirect(relying_party.url + "/cb")

    with Server(app) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 375, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "java_script_enabled": False,  # the pages work without any script
}


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_sign_in_see_account_and_sign_out_in_vietnamese(browser, idp_server, tmp_path, device):
    context = browser.new_context(locale="vi-VN", **(DESKTOP if device == "desktop" else PHONE))
    page = context.new_page()
    try:
        page.goto(idp_server.url + "/login")
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.get_by_role("heading", level=1).inner_text() == "Đăng nhập"
        page.screenshot(path=str(tmp_path / f"login-{device}.png"), full_page=True)

        # Fields are found by their visible labels (the same way a screen reader names them).
        page.get_by_label("Địa chỉ thư điện tử").fill("Binh.TT@STTTT.HauGiang.gov.vn")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()

        page.wait_for_url(idp_server.url + "/account/")
        assert page.get_by_role("heading", level=1).inner_text() == "Tài khoản của tôi"
        assert page.locator("#account-name").inner_text() == NAME
        assert "Trung tâm Công nghệ thông tin" in page.locator("#account-unit").inner_text()
        sign_ins = page.locator("#sign-ins tbody tr")
        assert sign_ins.count() == 1
        assert "127.0.0.1" in sign_ins.first.inner_text()
        if device == "desktop":
            assert "Chrome" in sign_ins.first.inner_text()
        page.screenshot(path=str(tmp_path / f"account-{device}.png"), full_page=True)

        page.get_by_role("button", name="Đăng xuất", exact=True).click()
        page.wait_for_url(idp_server.url + "/logged-out")
        assert page.get_by_role("heading", level=1).inner_text() == "Bạn đã đăng xuất"
        page.screenshot(path=str(tmp_path / f"logged-out-{device}.png"), full_page=True)

        page.goto(idp_server.url + "/account/")
        assert page.url.startswith(idp_server.url + "/login")
    finally:
        context.close()
    for name in ("login", "account", "logged-out"):
        assert (tmp_path / f"{name}-{device}.png").stat().st_size > 5_000


def test_nothing_overflows_a_phone_screen(browser, idp_server):
    context = browser.new_context(locale="vi-VN", viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        for path in ("/login", "/logged-out", "/nowhere"):
            page.goto(idp_server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        page.goto(idp_server.url + "/login")
        page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(idp_server.url + "/account/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


def test_keyboard_reaches_the_skip_link_first_and_the_focus_is_visible(browser, idp_server):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(idp_server.url + "/login")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Bỏ qua, đến nội dung chính"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
    finally:
        context.close()


def test_a_wrong_password_is_announced_in_english(browser, idp_server):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(idp_server.url + "/login")
        assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        alert = page.get_by_role("alert")
        assert alert.inner_text() == "The e-mail address or password is incorrect."
        assert page.get_by_label("Password").input_value() == ""
    finally:
        context.close()


def test_sign_in_can_end_at_a_relying_party_on_another_origin(browser, idp_server, relying_party):
    """Chrome checks CSP form-action on every redirect after a form submission."""
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(idp_server.url + "/login?next=/_test/authorize")
        page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(relying_party.url + "/cb")
        assert page.locator("#arrived").inner_text() == "arrived at the relying party"
    finally:
        context.close()
