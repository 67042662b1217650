"""Second factors in headless Chromium: enrolling an authenticator app from the account page
and signing in with it; a relying party asking for the stronger level and getting a step-up
(the factor page only, no new password)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from helpers.clients import SECRET, make_client
from helpers.factors import code_for, enrol
from helpers.live import Server
from helpers.people import EMAIL, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def idp_server(app, make_user, relying_party) -> Iterator[Server]:
    make_user()
    make_client(app, "qlvb", redirect_uris=[relying_party.url + "/cb"])
    with Server(app) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def sign_in_with_password(page, base: str) -> None:
    page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def test_enrol_an_authenticator_and_sign_in_with_it(browser, idp_server, tmp_path):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(idp_server.url + "/login")
        sign_in_with_password(page, idp_server.url)
        page.wait_for_url(idp_server.url + "/account/")
        assert page.get_by_role("heading", name="Bảo mật").is_visible()
        page.get_by_role("link", name="Bật xác thực hai bước").click()
        page.wait_for_url(idp_server.url + "/account/security/totp")
        assert page.locator("#totp-qr svg").is_visible()
        page.screenshot(path=str(tmp_path / "enrol.png"), full_page=True)
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.get_by_label("Mã xác thực").fill(code_for(secret))
        page.get_by_role("button", name="Xác nhận").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Mã khôi phục"
        assert page.locator("#recovery-codes li").count() == 10
        page.get_by_role("link", name="Tôi đã lưu mã, tiếp tục").click()
        assert "Đang bật" in page.locator("#totp-status").inner_text()

        page.get_by_role("button", name="Đăng xuất", exact=True).click()
        page.wait_for_url(idp_server.url + "/logged-out")
        page.goto(idp_server.url + "/login")
        sign_in_with_password(page, idp_server.url)
        page.wait_for_url(idp_server.url + "/login/factor")
        assert page.get_by_role("heading", level=1).inner_text() == "Xác thực hai bước"
        # A wrong code first: announced, and the page stays.
        page.get_by_label("Mã xác thực").fill("12345x")
        page.get_by_role("button", name="Xác nhận").click()
        assert "Mã xác thực không đúng" in page.get_by_role("alert").first.inner_text()
        # The next time step's code (the enrolment spent this one).
        page.get_by_label("Mã xác thực").fill(code_for(secret, 30))
        page.get_by_role("button", name="Xác nhận").click()
        page.wait_for_url(idp_server.url + "/account/")
        page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
    finally:
        context.close()


def claims_of(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_relying_party_asks_for_the_stronger_level_and_gets_a_step_up(
    app, browser, idp_server, relying_party
):
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    redirect_uri = relying_party.url + "/cb"

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
        return idp_server.url + "/oauth2/authorize?" + urlencode(params)

    try:
        # Signed in with the password only, as every morning.
        page.goto(authorize())
        sign_in_with_password(page, idp_server.url)
        page.wait_for_url(redirect_uri + "?*")
        secret, _codes = enrol(app)
        # Signing a document: the application asks for the second-factor level.
        page.goto(authorize(acr_values="urn:hg:loa:2"))
        page.wait_for_url(idp_server.url + "/login/factor")
        assert page.get_by_label("Mật khẩu").count() == 0
        assert "không cần nhập lại mật khẩu" in page.locator("main").inner_text()
        page.get_by_label("Mã xác thực").fill(code_for(secret))
        page.get_by_role("button", name="Xác nhận").click()
        page.wait_for_url(redirect_uri + "?*")
        code = parse_qs(urlsplit(page.url).query)["code"][0]
    finally:
        context.close()
    token = app.test_client().post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        headers={"Authorization": "Basic " + base64.b64encode(f"qlvb:{SECRET}".encode()).decode()},
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    claims = claims_of(token.get_json()["id_token"])
    assert claims["acr"] == "urn:hg:loa:2" and claims["amr"] == ["pwd", "otp", "mfa"]
