"""The console in headless Chromium: an administrator finds a person, ends their sessions,
and the relying party that person signed in to is told through Back-Channel Logout.

The provider is a real server on 127.0.0.1 in a thread (SQLite); the relying party's
back-channel endpoint is tests/helpers/receiver.py's; the person's own browser is a Flask
test client that signed in and opened the relying party (so the session has it as a
client). Back-channel notices go out right after the console's transaction commits, as in
production (LOGOUT_DELIVER_IMMEDIATELY). Debian's /usr/bin/chromium (skipped without it,
except with CI=true).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from helpers.admin import grant_unit
from helpers.clients import make_client
from helpers.factors import code_for, enrol
from helpers.live import Server
from helpers.logout_flow import LOGOUT_TEST_CONFIG
from helpers.people import PASSWORD
from helpers.session_flow import sign_in_to, signed_in_browser

pytestmark = pytest.mark.browser

ADMIN = "it.vithanh@haugiang.gov.vn"
PERSON = "le.van.tam@haugiang.gov.vn"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def app_config():
    return {**LOGOUT_TEST_CONFIG, "LOGOUT_DELIVER_IMMEDIATELY": True}


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


@pytest.fixture
def console(app, make_user, make_unit) -> Iterator[Server]:
    make_unit("HG", name="Tỉnh Hậu Giang", kind="province")
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district", parent="HG")
    make_user(ADMIN, PASSWORD, family_name="Võ", middle_name="Minh", given_name="Trí", unit="HG.VT")
    grant_unit(app, ADMIN, "HG.VT")
    with Server(app) as server:
        yield server


def _claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_unit_admin_ends_a_persons_sessions_and_the_relying_party_is_told(
    app, browser, console, make_user, receiver
):
    sub = make_user(PERSON, family_name="Lê", middle_name="Văn", given_name="Tâm", unit="HG.VT")
    make_client(
        app,
        "webmail",
        secret=None,
        auth_method="none",
        client_name="Thư điện tử công vụ",
        scope="openid profile email",
        backchannel_logout_uri=receiver.url(),
    )
    person = signed_in_browser(app, PERSON)
    sign_in_to(person, "webmail")
    secret, _codes = enrol(app, ADMIN)

    context = browser.new_context(locale="vi-VN")
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        page.goto(console.url + "/admin/people")
        # Not signed in: the sign-in page, then the authenticator's code, then back.
        page.get_by_label("Địa chỉ thư điện tử").fill(ADMIN)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_label("Mã xác thực").fill(code_for(secret))
        page.get_by_role("button", name="Xác nhận").click()
        page.wait_for_url(console.url + "/admin/people")

        page.get_by_label("Tên hoặc địa chỉ thư điện tử").fill("le van tam")
        page.get_by_role("button", name="Tìm").click()
        page.get_by_role("link", name="Lê Văn Tâm").click()
        page.wait_for_url(console.url + f"/admin/people/{sub}")
        assert "Thư điện tử công vụ" in page.locator("#person-sessions").inner_text()

        page.locator("#action-end-sessions").click()
        assert "Lê Văn Tâm" in page.locator("#confirm-question").inner_text()
        page.locator("#confirm").click()
        page.wait_for_url(console.url + f"/admin/people/{sub}?*")
        assert page.locator("#person-notice").is_visible()
        assert page.locator("#person-no-sessions").is_visible()
    finally:
        context.close()

    notices = receiver.wait_for(1)
    assert len(notices) == 1
    claims = _claims(notices[0].logout_token)
    assert claims["aud"] == "webmail" and claims["sub"] == sub
    assert BACKCHANNEL_EVENT in claims["events"]
    # The person's own browser is signed out too.
    assert person.get("/account/").status_code == 302
