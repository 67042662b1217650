"""Changing one's password on the account page, and the change forced after an
administrator's reset (`idp users reset-password`)."""

from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa
from helpers.clients import REDIRECT_URI, make_client
from helpers.mailbox import queued
from helpers.pages import csrf_of, sign_in
from helpers.people import EMAIL, PASSWORD
from helpers.session_flow import signed_in_browser

NEW_PASSWORD = "Một-cụm-từ-mới-dễ-nhớ-2027"


def change(http, current: str, new: str, confirm: str | None = None):
    data = {
        "current": current,
        "password": new,
        "confirm": new if confirm is None else confirm,
        "csrf_token": csrf_of(http, "/account/"),
    }
    return http.post("/password/change", data=data)


def audit_of(app, action: str) -> list:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        )


def test_the_account_page_has_a_security_section_with_the_form(app, make_user):
    make_user()
    page = signed_in_browser(app).get("/account/").get_data(as_text=True)
    assert '<h2 id="security-title">Bảo mật</h2>' in page
    assert 'action="/password/change"' in page and 'name="current"' in page
    assert 'for="pw-current"' in page and 'id="pw-current"' in page


def test_change_password_ends_every_other_session(app, make_user):
    make_user()
    here, elsewhere = signed_in_browser(app), signed_in_browser(app)
    answer = change(here, PASSWORD, NEW_PASSWORD)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/account/?password=changed#security"
    page = here.get("/account/?password=changed")
    assert page.status_code == 200  # this browser stays signed in
    assert "Mật khẩu đã được đổi. Các phiên đăng nhập khác của bạn đã kết thúc." in page.get_data(
        as_text=True
    )
    assert elsewhere.get("/account/").status_code == 302
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 401
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 302
    [notice] = queued(app, template="password_changed")
    assert notice.recipient == EMAIL and "đã được đổi lúc" in notice.text
    [event] = [e for e in audit_of(app, "password.change") if e.outcome == "success"]
    assert event.detail == {"sessions_ended": 1}
    ended = [e for e in audit_of(app, "session.end") if e.detail["reason"] == "password_changed"]
    assert len(ended) == 1


def test_a_wrong_current_password_changes_nothing(app, make_user):
    make_user()
    here = signed_in_browser(app)
    answer = change(here, "không phải mật khẩu", NEW_PASSWORD)
    assert answer.status_code == 401
    assert "Mật khẩu hiện tại không đúng." in answer.get_data(as_text=True)
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302
    assert not queued(app)
    assert [e.outcome for e in audit_of(app, "password.change")] == ["failure"]


def test_the_policy_and_the_confirmation_are_checked(app, make_user):
    make_user()
    here = signed_in_browser(app)
    cases = [
        ("ngắn", None, "Mật khẩu phải có ít nhất 10 ký tự."),
        (PASSWORD, None, "Mật khẩu mới phải khác mật khẩu hiện tại."),
        ("password123", None, "Mật khẩu này quá phổ biến"),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "Hai lần nhập mật khẩu mới không khớp nhau."),
        ("", "", "Vui lòng nhập mật khẩu mới."),
    ]
    for new, confirm, message in cases * 2:
        answer = change(here, PASSWORD, new, confirm)
        assert answer.status_code == 400, new
        assert message in answer.get_data(as_text=True)
    # Refusals with the right current password are no guesses: nothing is held back.
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302


def test_guessing_the_current_password_is_throttled_like_a_sign_in(app, make_user):
    make_user()
    here = signed_in_browser(app)
    statuses = [change(here, f"đoán sai số {i}", NEW_PASSWORD).status_code for i in range(10)]
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
    held = change(here, PASSWORD, NEW_PASSWORD)
    assert held.status_code == 429 and held.headers["Retry-After"]
    assert "Vui lòng thử lại sau" in held.get_data(as_text=True)


def test_without_a_session_the_change_page_asks_to_sign_in(sqlite_app):
    answer = sqlite_app.test_client().get("/password/change")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/password/change")


def test_a_signed_in_person_can_open_the_change_page(app, make_user):
    make_user()
    page = signed_in_browser(app).get("/password/change")
    assert page.status_code == 200 and "Mật khẩu hiện tại" in page.get_data(as_text=True)


# -- an administrator's reset -----------------------------------------------------------------


def reset_by_admin(app, identifier: str = EMAIL) -> str:
    result = app.test_cli_runner().invoke(args=["users", "reset-password", identifier])
    assert result.exit_code == 0, result.output
    return result.output.rsplit("Temporary password: ", 1)[1].strip()


def authorize_url() -> str:
    params = {
        "response_type": "code",
        "client_id": "webmail",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return "/oauth2/authorize?" + urlencode(params)


def test_admin_reset_forces_a_change_before_any_session(app, make_user):
    make_user()
    make_client(app)
    before = signed_in_browser(app)
    temporary = reset_by_admin(app)
    assert len(temporary) == 16
    assert before.get("/account/").status_code == 302  # every session ended
    [notice] = queued(app, template="password_admin_reset")
    assert notice.subject == "Quản trị viên đã đặt lại mật khẩu của bạn"
    assert temporary not in notice.text and temporary not in notice.html

    http = app.test_client()
    start = http.get(authorize_url())
    assert start.status_code == 302 and start.headers["Location"].startswith("/login")
    login_next = start.headers["Location"].split("next=", 1)[1]
    from urllib.parse import unquote

    answer = sign_in(http, EMAIL, temporary, next=unquote(login_next))
    assert answer.status_code == 302 and answer.headers["Location"] == "/password/change"
    # Nothing is usable meanwhile: no account page, no code for the relying party.
    assert http.get("/account/").status_code == 302
    again = http.get(authorize_url())
    assert again.status_code == 302 and "code=" not in again.headers["Location"]

    page = http.get("/password/change").get_data(as_text=True)
    assert "Quản trị viên đã đặt lại mật khẩu" in page and 'name="current"' not in page
    same = http.post(
        "/password/change",
        data={
            "password": temporary,
            "confirm": temporary,
            "csrf_token": csrf_of(http, "/password/change"),
        },
    )
    assert same.status_code == 400
    assert "Mật khẩu mới phải khác mật khẩu hiện tại." in same.get_data(as_text=True)
    done = http.post(
        "/password/change",
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_of(http, "/password/change"),
        },
    )
    assert done.status_code == 302
    # Back to the authorization request, now with a session: a code for the relying party.
    assert done.headers["Location"].startswith("/oauth2/authorize?")
    code = http.get(done.headers["Location"])
    assert code.status_code == 302 and "code=" in code.headers["Location"]
    assert sign_in(app.test_client(), EMAIL, temporary).status_code == 401
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 302
    [forced] = queued(app, template="password_changed")
    assert "sau khi quản trị viên đặt lại mật khẩu" in forced.text
    assert [e.action for e in audit_of(app, "password.admin_reset")] == ["password.admin_reset"]


def test_the_held_sign_in_expires(app, make_user, monkeypatch):
    make_user()
    temporary = reset_by_admin(app)
    http = app.test_client()
    assert sign_in(http, EMAIL, temporary).headers["Location"] == "/password/change"
    from helpers.clock import shift_utcnow

    import idp.interaction.views as views

    shift_utcnow(monkeypatch, views, app.config["PASSWORD_CHANGE_TICKET_SECONDS"] + 1)
    answer = http.get("/password/change")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_reset_password_reads_the_temporary_password_from_stdin(app, make_user):
    make_user()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "reset-password", EMAIL, "--password-stdin"], input="Tạm-thời-đủ-dài-1\n"
    )
    assert result.exit_code == 0, result.output
    assert "Temporary password" not in result.output
    answer = sign_in(app.test_client(), EMAIL, "Tạm-thời-đủ-dài-1")
    assert answer.headers["Location"] == "/password/change"
    weak = runner.invoke(
        args=["users", "reset-password", EMAIL, "--password-stdin"], input="ngắn\n"
    )
    assert weak.exit_code == 1 and "password rejected" in weak.output
    unknown = runner.invoke(args=["users", "reset-password", "khong.co@haugiang.gov.vn"])
    assert unknown.exit_code == 1
