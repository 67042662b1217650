"""Passkeys in headless Chromium with its virtual authenticator (DevTools Protocol
`WebAuthn.addVirtualAuthenticator`, through a Playwright CDP session): a person adds a
passkey on the account page, signs out, and signs in with the passkey alone; signs in with
the password and the passkey as the second factor; and a relying party asking for the
phishing-resistant level gets a passkey step-up without a new password.

WebAuthn needs a secure context and a relying party id that is a domain: the server listens
on 127.0.0.1 but the browser and the issuer use http://localhost:<port> (Chromium counts
localhost as secure; an IP address cannot be a relying party id).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from helpers.clients import SECRET, make_client
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
        # A passkey with user verification: two factors (RFC 8176 `mfa`).
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


@pytest.fixture
def idp_with_rp(app, make_user, relying_party) -> Iterator[Server]:
    make_user(family_name="Lê", middle_name="Thị", given_name="Hoa")
    make_client(app, "qlvb", redirect_uris=[relying_party.url + "/cb"])
    server = Server(app)
    server.url = f"http://localhost:{server.port}"
    app.config["ISSUER"] = server.url
    with server:
        yield server


def _password(page) -> None:
    page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()


def _add_passkey(page, base: str, name: str) -> None:
    page.goto(base + "/account/")
    page.get_by_label("Tên khóa truy cập (không bắt buộc)").fill(name)
    page.get_by_role("button", name="Thêm khóa truy cập").click()
    page.wait_for_url(base + "/account/?passkey=added#passkeys")


def test_password_then_a_passkey_as_the_second_factor(browser, idp_server, app):
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        _virtual_authenticator(context, page)
        page.goto(idp_server.url + "/login")
        _password(page)
        page.wait_for_url(idp_server.url + "/account/")
        _add_passkey(page, idp_server.url, "Điện thoại")
        page.get_by_role("button", name="Đăng xuất", exact=True).click()
        page.wait_for_url(idp_server.url + "/logged-out")

        # The password, then the factor page: a passkey only (no authenticator app).
        page.goto(idp_server.url + "/login")
        _password(page)
        page.wait_for_url(idp_server.url + "/login/factor")
        assert page.get_by_label("Mã xác thực").count() == 0
        page.get_by_role("button", name="Dùng khóa truy cập").click()
        page.wait_for_url(idp_server.url + "/account/")
        assert page.locator("#account-name").inner_text() == "Lê Thị Hoa"
        assert _session_of(app)[-1] == (["pwd", "hwk", "user", "mfa"], "urn:hg:loa:3")
    finally:
        context.close()


def _claims(app, code: str, redirect_uri: str) -> dict:
    basic = base64.b64encode(f"qlvb:{SECRET}".encode()).decode()
    token = app.test_client().post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        headers={"Authorization": "Basic " + basic},
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    payload = token.get_json()["id_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_relying_party_asking_for_loa3_gets_a_passkey_step_up(
    browser, idp_with_rp, app, relying_party
):
    base, redirect_uri = idp_with_rp.url, relying_party.url + "/cb"

    def authorize(**extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": "qlvb",
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "nonce": "n1",
            "state": "s1",
            **extra,
        }
        return base + "/oauth2/authorize?" + urlencode(params)

    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        _virtual_authenticator(context, page)
        # Signed in with the password only; a passkey added later in the day.
        page.goto(authorize())
        _password(page)
        page.wait_for_url(redirect_uri + "?*")
        first = _claims(app, parse_qs(urlsplit(page.url).query)["code"][0], redirect_uri)
        assert first["acr"] == "urn:hg:loa:1"
        _add_passkey(page, base, "Máy tính làm việc")
        # Signing a document: the phishing-resistant level. No password, the passkey only.
        page.goto(authorize(acr_values="urn:hg:loa:3"))
        page.wait_for_url(base + "/login/factor")
        assert page.get_by_label("Mật khẩu").count() == 0
        assert "không cần nhập lại mật khẩu" in page.locator("main").inner_text()
        page.get_by_role("button", name="Dùng khóa truy cập").click()
        page.wait_for_url(redirect_uri + "?*")
        code = parse_qs(urlsplit(page.url).query)["code"][0]
    finally:
        context.close()
    claims = _claims(app, code, redirect_uri)
    assert claims["sid"] == first["sid"]
    assert claims["acr"] == "urn:hg:loa:3"
    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"]
