"""Passkeys in headless Chromium with its virtual authenticator (DevTools Protocol
`WebAuthn.addVirtualAuthenticator`, through a Playwright CDP session): a person adds a
passkey on the account page, signs out, and signs in with the passkey alone.

WebAuthn needs a secure context and a relying party id that is a domain: the server listens
on 127.0.0.1 but the browser and the issuer use http://localhost:<port> (Chromium counts
localhost as secure; an IP address cannot be a relying party id).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers.live import Server
from helpers.people import EMAIL, PASSWORD

pytestmark = pytest.mark.browser

DATE = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}")


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


@pytest.fixture
def idp_server(app, make_user) -> Iterator[Server]:
    make_user(family_name="Lê", middle_name="Thị", given_name="Hoa")
    server = Server(app)
    server.url = f"http://localhost:{server.port}"
    app.config["ISSUER"] = server.url
    with server:
        yield server


def _virtual_authenticator(context, page) -> tuple[object, str]:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _session_of(app, sid_index: int = -1):
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        rows = db.session.execute(
            sa.select(SsoSession).where(SsoSession.ended_at.is_(None)).order_by(SsoSession.id)
        ).scalars()
        return [(s.amr, s.acr) for s in rows]


def test_add_a_passkey_sign_out_and_sign_in_with_it_alone(browser, idp_server, app, tmp_path):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        cdp, authenticator = _virtual_authenticator(context, page)
        page.goto(idp_server.url + "/login")
        page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập", exact=True).click()
        page.wait_for_url(idp_server.url + "/account/")
        assert page.get_by_role("heading", name="Bảo mật").is_visible()
        assert page.locator("#passkey-none").is_visible()

        page.get_by_label("Tên khóa truy cập (không bắt buộc)").fill("Máy tính làm việc")
        page.get_by_role("button", name="Thêm khóa truy cập").click()
        page.wait_for_url(idp_server.url + "/account/?passkey=added#passkeys")
        assert page.locator("#passkey-notice").inner_text() == "Đã thêm khóa truy cập."
        item = page.locator("#passkey-list > li")
        assert item.count() == 1
        assert item.locator("h4").inner_text() == "Máy tính làm việc"
        assert DATE.search(item.inner_text())
        page.screenshot(path=str(tmp_path / "account-passkey.png"), full_page=True)
        (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
            "credentials"
        ]
        assert credential["isResidentCredential"] is True

        page.get_by_role("button", name="Đăng xuất", exact=True).click()
        page.wait_for_url(idp_server.url + "/logged-out")

        page.goto(idp_server.url + "/login?next=/account/%3Ffrom%3Dpasskey")
        page.get_by_role("button", name="Đăng nhập bằng khóa truy cập").click()
        page.wait_for_url(idp_server.url + "/account/?from=passkey")
        assert page.locator("#account-name").inner_text() == "Lê Thị Hoa"
        # The virtual authenticator's key is device-bound (not backup eligible): hwk.
        assert _session_of(app)[-1] == (["hwk", "user", "mfa"], "urn:hg:loa:3")
        assert "Chưa dùng" not in page.locator("#passkey-list > li").inner_text()
    finally:
        context.close()


def test_nothing_is_offered_on_a_host_that_is_not_the_relying_party(browser, idp_server):
    """The same server reached as 127.0.0.1: passkeys bound to localhost cannot work there."""
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(idp_server.url.replace("localhost", "127.0.0.1") + "/login")
        assert page.locator("#passkey-sign-in").count() == 1
        assert not page.locator("#passkey-sign-in").is_visible()
        page.goto(idp_server.url + "/login")
        assert page.locator("#passkey-sign-in").is_visible()
    finally:
        context.close()


def test_no_passkey_on_the_device_shows_a_readable_message(browser, idp_server):
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        _virtual_authenticator(context, page)
        page.goto(idp_server.url + "/login")
        page.get_by_role("button", name="Đăng nhập bằng khóa truy cập").click()
        error = page.locator("#passkey-sign-in-error")
        error.wait_for(state="visible", timeout=15000)
        assert error.inner_text() == (
            "Chưa đăng nhập: thao tác với khóa truy cập đã bị hủy hoặc hết thời gian."
        )
        assert page.url.startswith(idp_server.url + "/login")
    finally:
        context.close()
