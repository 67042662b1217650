"""Passkeys through the pages, with the Flask test client and a software authenticator:
the account page's "Bảo mật" section (add, list, rename, remove) and signing in with a
passkey alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from helpers.authenticator import Authenticator
from helpers.db import move_back
from helpers.oidc_flow import query_of
from helpers.pages import csrf_of, sign_in
from helpers.passkeys import (
    enrol,
    enrol_while_signing_in,
    factor_passkey,
    passkey_sign_in,
    sign_in_options,
)
from helpers.session_flow import age_sessions, signed_in_browser

from idp.audit import AuditEvent
from idp.extensions import db
from idp.i18n import LANG_COOKIE
from idp.passkeys.models import Passkey
from idp.sessions.models import SsoSession

DATE = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}")


@pytest.fixture
def browser(app, make_user):
    make_user()
    return signed_in_browser(app)


def _passkeys(app):
    with app.app_context():
        return [(p.id, p.name) for p in db.session.execute(sa.select(Passkey)).scalars()]


def _live_sessions(app):
    """(id, sid, e-mail, amr, acr) of each session not ended, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(SsoSession).where(SsoSession.ended_at.is_(None)).order_by(SsoSession.id)
        ).scalars()
        return [(s.id, s.sid, s.user.email, s.amr, s.acr) for s in rows]


def test_the_account_page_has_a_security_section_offering_passkeys(browser):
    html = browser.get("/account/").get_data(as_text=True)
    assert ">Bảo mật</h2>" in html
    assert 'id="passkey-add"' in html and "Thêm khóa truy cập" in html
    assert "Bạn chưa có khóa truy cập nào." in html
    assert "/static/passkeys.js" in html


def test_add_a_passkey_and_see_it_listed_with_its_dates(app, browser):
    response = enrol(browser, Authenticator(), name="Điện thoại của An")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["redirect"] == "/account/?passkey=added#passkeys"
    html = browser.get("/account/?passkey=added").get_data(as_text=True)
    assert "Đã thêm khóa truy cập." in html
    item = re.search(r'<li class="passkey".*?</li>', html, re.S).group(0)
    assert "Điện thoại của An" in item and DATE.search(item) and "Chưa dùng" in item
    with app.app_context():
        event = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "passkey_added")
        ).scalar_one()
        assert event.detail["name"] == "Điện thoại của An"


def test_a_passkey_without_a_name_is_named_after_the_browser(app, make_user):
    make_user()
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
    http = signed_in_browser(app, user_agent=chrome)
    assert enrol(http, Authenticator()).status_code == 200
    ((_, name),) = _passkeys(app)
    assert "Chrome" in name


def test_rename_a_passkey(app, browser):
    enrol(browser, Authenticator(), name="Cũ")
    ((passkey_id, _),) = _passkeys(app)
    csrf = csrf_of(browser, "/account/")
    response = browser.post(
        f"/account/passkeys/{passkey_id}/rename", data={"csrf_token": csrf, "name": "Khóa USB"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/?passkey=renamed#passkeys")
    assert _passkeys(app) == [(passkey_id, "Khóa USB")]
    response = browser.post(
        f"/account/passkeys/{passkey_id}/rename", data={"csrf_token": csrf, "name": " "}
    )
    assert response.headers["Location"].endswith("passkey=bad_name#passkeys")
    page = browser.get("/account/?passkey=bad_name").get_data(as_text=True)
    assert "Tên khóa truy cập phải có từ 1 đến 64 ký tự." in page
    assert _passkeys(app) == [(passkey_id, "Khóa USB")]


def _remove(browser, passkey_id: int):
    csrf = csrf_of(browser, "/account/")
    return browser.post(f"/account/passkeys/{passkey_id}/remove", data={"csrf_token": csrf})


def test_removing_a_passkey_asks_for_a_second_factor_first(app, browser):
    key = Authenticator()
    enrol(browser, key)
    ((passkey_id, _),) = _passkeys(app)
    # Signed in with the password alone: the factor page first (step-up, no password).
    response = _remove(browser, passkey_id)
    location = response.headers["Location"]
    assert response.status_code == 302 and location.startswith("/login?")
    assert query_of(location) == {"step_up": "1", "next": "/account/#passkeys"}
    assert len(_passkeys(app)) == 1
    assert browser.get(location).headers["Location"] == "/login/factor"
    done = factor_passkey(browser, key)
    assert done.status_code == 200 and done.get_json()["redirect"] == "/account/#passkeys"
    response = _remove(browser, passkey_id)
    assert response.headers["Location"].endswith("/account/?passkey=removed#passkeys")
    assert _passkeys(app) == []


def test_removing_long_after_the_second_factor_asks_for_it_again(app, browser):
    key = Authenticator()
    enrol(browser, key)
    ((passkey_id, _),) = _passkeys(app)
    _remove(browser, passkey_id)
    browser.get("/login?step_up=1")
    assert factor_passkey(browser, key).status_code == 200
    age_sessions(app, app.config["FACTOR_FRESH_SECONDS"] + 60)
    response = _remove(browser, passkey_id)
    assert "step_up=1" in response.headers["Location"]
    assert len(_passkeys(app)) == 1
    # Signing in again with the password alone is not a second factor: still asked.
    sign_in(browser)
    response = _remove(browser, passkey_id)
    assert "step_up=1" in response.headers["Location"]
    assert len(_passkeys(app)) == 1


def test_the_last_factor_of_someone_who_must_have_one_can_go_then_enrolment(app, make_user):
    make_user(roles=["admin"])
    http = app.test_client()
    first = sign_in(http)
    # An administrator without a second factor enrols one: here a passkey.
    assert first.headers["Location"] == "/login/factor"
    page = http.get("/login/factor").get_data(as_text=True)
    assert 'id="passkey-add"' in page and 'id="totp-qr"' in page
    key = Authenticator()
    added = enrol_while_signing_in(http, key)
    assert added.status_code == 200 and added.get_json()["redirect"] == "/login/factor"
    assert factor_passkey(http, key).status_code == 200
    ((passkey_id, _),) = _passkeys(app)
    # Removing it (a second factor given just now) is allowed ...
    assert _remove(http, passkey_id).headers["Location"].endswith("passkey=removed#passkeys")
    assert _passkeys(app) == []
    # ... and the next sign-in takes them through enrolment again.
    again = app.test_client()
    assert sign_in(again).headers["Location"] == "/login/factor"
    assert 'id="totp-qr"' in again.get("/login/factor").get_data(as_text=True)


def test_sign_in_with_a_passkey_alone(app, browser, make_user):
    key = Authenticator()
    enrol(browser, key)
    fresh = app.test_client()
    response = passkey_sign_in(fresh, key, next="/account/?x=1")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"redirect": "/account/?x=1"}
    sessions = _live_sessions(app)
    assert len(sessions) == 2
    # A passkey with user verification: two factors (RFC 8176 `mfa`), the strongest level.
    assert sessions[-1][3] == ["hwk", "user", "mfa"]
    assert sessions[-1][4] == "urn:hg:loa:3"
    page = fresh.get("/account/")
    assert page.status_code == 200 and "Nguyễn Văn An" in page.get_data(as_text=True)
    # The sign-in is listed with the others, and the passkey shows when it was last used.
    with app.app_context():
        logins = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "login")
        ).scalars()
        assert [e.detail.get("method") for e in logins][-1] == "passkey"
    assert "Chưa dùng" not in re.search(
        r'<li class="passkey".*?</li>', page.get_data(as_text=True), re.S
    ).group(0)


def test_a_passkey_sign_in_by_the_same_person_renews_their_session(app, browser):
    key = Authenticator()
    enrol(browser, key)
    (before,) = _live_sessions(app)
    response = passkey_sign_in(browser, key)
    assert response.get_json() == {"redirect": "/account/"}
    (after,) = _live_sessions(app)
    assert after[1] == before[1] and after[4] == "urn:hg:loa:3"


def test_a_passkey_sign_in_replaces_someone_elses_session(app, browser, make_user):
    key = Authenticator()
    enrol(browser, key)
    make_user("tran.thi.binh@haugiang.gov.vn")
    other = signed_in_browser(app, "tran.thi.binh@haugiang.gov.vn")
    passkey_sign_in(other, key)
    users = sorted(s[2] for s in _live_sessions(app))
    assert users == ["nguyen.van.an@haugiang.gov.vn", "nguyen.van.an@haugiang.gov.vn"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_next_after_a_passkey_sign_in_stays_on_this_site(app, browser, target):
    key = Authenticator()
    enrol(browser, key)
    response = passkey_sign_in(app.test_client(), key, next=target)
    assert response.get_json() == {"redirect": "/account/"}


def test_the_sign_in_page_offers_the_passkey_button(app, client):
    html = client.get("/login?next=/account/").get_data(as_text=True)
    assert 'id="passkey-sign-in"' in html and "Đăng nhập bằng khóa truy cập" in html
    assert 'data-next="/account/"' in html
    # No inline script: the page's policy allows only the site's own script files.
    assert "<script>" not in html
    assert "script-src 'self'" in client.get("/login").headers["Content-Security-Policy"]


@pytest.mark.parametrize("app_config", [{"PASSKEY_SIGN_IN": False}])
def test_passkey_sign_in_can_be_turned_off(app, browser):
    key = Authenticator()
    assert enrol(browser, key).status_code == 200  # still a way to add passkeys
    fresh = app.test_client()
    assert 'id="passkey-sign-in"' not in fresh.get("/login").get_data(as_text=True)
    assert sign_in_options(fresh).status_code == 404


def test_english_messages(app, browser):
    browser.set_cookie(LANG_COOKIE, "en")
    response = enrol(browser, Authenticator(), name="x" * 65)
    assert response.status_code == 400
    assert response.get_json()["error"] == "A passkey's name must be 1 to 64 characters long."


def test_signed_out_ceremonies_answer_401(app, client):
    csrf = csrf_of(client, "/login")
    from helpers.passkeys import post_json

    assert post_json(client, "/account/passkeys/options", {}, csrf).status_code == 401
    assert post_json(client, "/account/passkeys", {}, csrf).status_code == 401


def test_remember_me_applies_to_a_passkey_sign_in(app, browser):
    key = Authenticator()
    enrol(browser, key)
    from helpers.passkeys import post_json

    for remember in (True, False):
        http = app.test_client()
        csrf = csrf_of(http, "/login")
        options = sign_in_options(http, csrf).get_json()["publicKey"]
        body = {"credential": key.get(options), "remember": remember}
        response = post_json(http, "/login/passkey", body, csrf)
        assert response.status_code == 200
        with app.app_context():
            newest = db.session.execute(
                sa.select(SsoSession).order_by(SsoSession.id.desc()).limit(1)
            ).scalar_one()
            assert newest.remember is remember


def test_sign_count_moves_forward_and_last_use_is_recorded(app, browser):
    key = Authenticator()
    enrol(browser, key)
    for _ in range(3):
        assert passkey_sign_in(app.test_client(), key).status_code == 200
    with app.app_context():
        passkey = db.session.execute(sa.select(Passkey)).scalar_one()
        assert passkey.sign_count == 3 and passkey.last_used_at is not None
    move_back(app, Passkey, created_at=60)


@pytest.mark.parametrize(
    ("language", "button", "intro"),
    [
        ("vi", "Dùng khóa truy cập", "Mở ứng dụng xác thực"),
        ("en", "Use a passkey", "Open the authenticator app"),
    ],
)
def test_the_factor_page_offers_a_passkey_in_both_languages(app, browser, language, button, intro):
    key = Authenticator()
    enrol(browser, key)
    http = app.test_client()
    http.set_cookie(LANG_COOKIE, language)
    assert sign_in(http).headers["Location"] == "/login/factor"
    page = http.get("/login/factor").get_data(as_text=True)
    # Passkeys only: the button, no code field (and no words about an authenticator app).
    assert button in page and 'name="code"' not in page and intro not in page
    done = factor_passkey(http, key)
    assert done.status_code == 200
    sessions = _live_sessions(app)
    assert sessions[-1][3] == ["pwd", "hwk", "user", "mfa"]
    assert sessions[-1][4] == "urn:hg:loa:3"


def test_the_account_page_counts_passkeys_as_two_step_verification(browser):
    enrol(browser, Authenticator())
    html = browser.get("/account/").get_data(as_text=True)
    assert "Đang bật bằng khóa truy cập" in html and 'id="enrol-totp"' in html
