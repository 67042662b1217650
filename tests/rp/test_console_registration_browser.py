"""Issue 11: an administrator registers an application in the console, in a real browser
(headless Chromium, Playwright), reads its secret once, and a person then signs in to that
application through a real relying party (clients/demo-rp, Node.js openid-client)
configured with the client_id and secret read from the page.

Without chromium, node or npm the test is skipped, except with CI=true, where it fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from helpers.factors import code_for, enrol
from helpers.live import EMAIL, NAME, PASSWORD, LiveIdp, NodeRP, free_port

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "quan.tri@haugiang.gov.vn"


@pytest.fixture
def contexts(chromium) -> Iterator:
    opened = []

    def new():
        context = chromium.new_context(locale="vi-VN")
        context.set_default_timeout(15000)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()


def _make_admin(idp: LiveIdp) -> str:
    from idp.directory.store import find_user_by_address
    from idp.extensions import db

    idp.add_user(ADMIN_EMAIL, PASSWORD, family="Phạm", middle="Minh", given="Quân")
    with idp.app.app_context():
        find_user_by_address(ADMIN_EMAIL).roles = ["admin"]
        db.session.commit()
    secret, _codes = enrol(idp.app, ADMIN_EMAIL)
    return secret


def _sign_in_to_console(page, idp: LiveIdp, totp_secret: str) -> None:
    page.goto(idp.issuer + "/admin/clients/new")
    page.get_by_label("Địa chỉ thư điện tử").fill(ADMIN_EMAIL)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_label("Mã xác thực").fill(code_for(totp_secret))
    page.get_by_role("button", name="Xác nhận").click()
    page.wait_for_url(idp.issuer + "/admin/clients/new")


def test_an_application_registered_in_the_console_signs_people_in(
    sqlite_url, started, demo_rp_ready, contexts
):
    idp = started(LiveIdp(sqlite_url))
    totp_secret = _make_admin(idp)
    idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    # The administrator fills the form in the browser.
    admin = contexts().new_page()
    _sign_in_to_console(admin, idp, totp_secret)
    assert admin.get_by_role("heading", level=1).inner_text() == "Đăng ký ứng dụng"
    admin.get_by_label("Tên ứng dụng").fill("Hệ thống báo cáo thử nghiệm")
    admin.locator("#f-redirect_uris").fill(f"{base}/auth/callback")
    admin.locator("#f-post_logout_redirect_uris").fill(f"{base}/")
    admin.locator("#f-scope").fill("openid profile email org")
    admin.locator("#f-backchannel_logout_uri").fill(f"{base}/auth/backchannel-logout")
    admin.get_by_label("authorization_code").check()
    admin.get_by_label(re.compile("Ứng dụng của tỉnh")).check()
    # A mistake first: a javascript: URI is refused, the form comes back with the error.
    admin.locator("#f-post_logout_redirect_uris").fill("javascript:alert(1)")
    admin.get_by_role("button", name="Đăng ký").click()
    assert admin.locator("#post_logout_redirect_uris-error").is_visible()
    assert admin.locator("#f-redirect_uris").input_value() == f"{base}/auth/callback"
    admin.locator("#f-post_logout_redirect_uris").fill(f"{base}/")
    admin.get_by_role("button", name="Đăng ký").click()

    # The secret, once.
    client_id = admin.locator("#client-id").inner_text()
    secret = admin.locator("#client-secret").inner_text()
    assert admin.locator("#secret-once").is_visible()
    admin.get_by_role("link", name="Xem ứng dụng").click()
    assert secret not in admin.content()

    # A real relying party configured with what the page showed.
    node = started(
        NodeRP(issuer=idp.issuer, client_id=client_id, secret=secret, port=port, title="Báo cáo")
    )
    person = contexts().new_page()
    person.goto(node.base + "/login")
    person.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
    person.get_by_label("Mật khẩu").fill(PASSWORD)
    person.get_by_role("button", name="Đăng nhập").click()
    person.wait_for_url(node.base + "/")
    assert person.locator("#name").inner_text() == NAME

    # The console shows the sign-in on the application's page.
    admin.reload()
    assert admin.locator("#sign-ins").inner_text().count(NAME) == 1
