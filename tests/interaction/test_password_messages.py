"""Every message of activation, "Quên mật khẩu?" and changing a password, in Vietnamese and
in English: the pages (by the reader's language) and the e-mails (by the account's)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.db import move_back
from helpers.mailbox import last_link, queued
from helpers.pages import csrf_of, sign_in
from helpers.people import EMAIL, PASSWORD
from helpers.session_flow import signed_in_browser

NEW = "Một-cụm-từ-mới-dễ-nhớ-2027"

TEXTS = {
    "vi": {
        "forgot_title": "Quên mật khẩu",
        "sent": "Kiểm tra hộp thư của bạn",
        "no_password_hint": "Hệ thống có thể gửi liên kết đặt mật khẩu đến hộp thư của bạn",
        "unknown": "Liên kết không hợp lệ.",
        "used": "Liên kết này đã được sử dụng.",
        "expired": "Liên kết này đã hết hạn.",
        "reset_title": "Đặt lại mật khẩu",
        "activate_title": "Kích hoạt tài khoản",
        "mismatch": "Hai lần nhập mật khẩu mới không khớp nhau.",
        "too_short": "Mật khẩu phải có ít nhất 10 ký tự.",
        "done_reset": "Mật khẩu đã được đặt lại. Mời bạn đăng nhập bằng mật khẩu mới.",
        "done_activated": "Tài khoản đã được kích hoạt. Mời bạn đăng nhập bằng mật khẩu mới.",
        "wrong_current": "Mật khẩu hiện tại không đúng.",
        "same": "Mật khẩu mới phải khác mật khẩu hiện tại.",
        "changed": "Mật khẩu đã được đổi. Các phiên đăng nhập khác của bạn đã kết thúc.",
        "security": "Bảo mật",
        "client_limit": "Có quá nhiều yêu cầu từ mạng của bạn.",
        "forced": "Quản trị viên đã đặt lại mật khẩu",
        "mail_reset": "Đặt lại mật khẩu",
        "mail_activation": "Kích hoạt tài khoản",
        "mail_changed": "Mật khẩu của bạn đã thay đổi",
        "mail_activated": "Tài khoản được kích hoạt",
        "mail_admin": "Quản trị viên đã đặt lại mật khẩu của bạn",
        "mail_expires": "hết hạn lúc",
    },
    "en": {
        "forgot_title": "Forgotten password",
        "sent": "Check your mailbox",
        "no_password_hint": "We can send a link to set the password to your mailbox",
        "unknown": "This link is not valid.",
        "used": "This link has already been used.",
        "expired": "This link has expired.",
        "reset_title": "Reset your password",
        "activate_title": "Activate your account",
        "mismatch": "The two new passwords do not match.",
        "too_short": "The password must be at least 10 characters long.",
        "done_reset": "Your password has been reset. Please sign in with your new password.",
        "done_activated": "Your account is activated. Please sign in with your new password.",
        "wrong_current": "The current password is not right.",
        "same": "The new password must differ from the current one.",
        "changed": "Your password has been changed. Your other sessions have ended.",
        "security": "Security",
        "client_limit": "Too many requests from your network.",
        "forced": "An administrator has reset the password",
        "mail_reset": "Reset your",
        "mail_activation": "Activate your",
        "mail_changed": "Your password has changed",
        "mail_activated": "Your account is activated",
        "mail_admin": "An administrator has reset your password",
        "mail_expires": "expires at",
    },
}


def browser(app, language: str):
    http = app.test_client()
    http.set_cookie("idp_lang", language, domain="localhost")
    return http


def text_of(response) -> str:
    return response.get_data(as_text=True)


def set_locale(app, language: str) -> None:
    from idp.directory.models import User
    from idp.extensions import db

    with app.app_context():
        db.session.execute(sa.update(User).values(locale=language))
        db.session.commit()


def post(http, path: str, form_path: str | None = None, **data):
    data["csrf_token"] = csrf_of(http, form_path or path)
    return http.post(path, data=data)


@pytest.fixture(params=["vi", "en"])
def language(request):
    return request.param


def test_link_pages_and_mails(app, make_user, language):
    t = TEXTS[language]
    make_user()
    set_locale(app, language)
    http = browser(app, language)
    assert t["forgot_title"] in text_of(http.get("/password/forgot"))
    assert t["sent"] in text_of(post(http, "/password/forgot", email=EMAIL))
    [mail] = queued(app, template="password_reset")
    assert mail.language == language and mail.subject.startswith(t["mail_reset"])
    assert t["mail_expires"] in mail.text
    path = last_link(app, EMAIL)
    assert t["reset_title"] in text_of(http.get(path))
    assert t["mismatch"] in text_of(post(http, path, password=NEW, confirm=NEW + "x"))
    assert t["too_short"] in text_of(post(http, path, password="ngắn", confirm="ngắn"))
    done = post(http, path, password=NEW, confirm=NEW)
    assert t["done_reset"] in text_of(http.get(done.headers["Location"]))
    assert queued(app, template="password_changed")[0].subject == t["mail_changed"]
    assert t["used"] in text_of(http.get(path))
    assert t["unknown"] in text_of(http.get("/password/reset/nothing"))
    post(http, "/password/forgot", email=EMAIL)
    from idp.directory.models import AccountToken

    move_back(app, AccountToken, expires_at=7200)
    assert t["expired"] in text_of(http.get(last_link(app, EMAIL)))


def test_activation_pages_and_mails(app, make_user, language):
    t = TEXTS[language]
    make_user(password=None)
    set_locale(app, language)
    http = browser(app, language)
    assert t["no_password_hint"] in text_of(sign_in(http, EMAIL, "bất kỳ mật khẩu nào"))
    post(http, "/password/forgot", email=EMAIL)
    [mail] = queued(app, template="activation")
    assert mail.subject.startswith(t["mail_activation"])
    path = last_link(app, EMAIL, "activation")
    assert t["activate_title"] in text_of(http.get(path))
    done = post(http, path, password=NEW, confirm=NEW)
    assert t["done_activated"] in text_of(http.get(done.headers["Location"]))
    assert queued(app, template="password_changed")[0].subject == t["mail_activated"]


def test_change_and_forced_change(app, make_user, language):
    t = TEXTS[language]
    make_user()
    set_locale(app, language)
    http = signed_in_browser(app)
    http.set_cookie("idp_lang", language, domain="localhost")
    assert t["security"] in text_of(http.get("/account/"))
    wrong = post(http, "/password/change", "/account/", current="sai", password=NEW, confirm=NEW)
    assert t["wrong_current"] in text_of(wrong)
    same = post(
        http, "/password/change", "/account/", current=PASSWORD, password=PASSWORD, confirm=PASSWORD
    )
    assert t["same"] in text_of(same)
    done = post(http, "/password/change", "/account/", current=PASSWORD, password=NEW, confirm=NEW)
    assert t["changed"] in text_of(http.get(done.headers["Location"]))

    result = app.test_cli_runner().invoke(args=["users", "reset-password", EMAIL])
    temporary = result.output.rsplit("Temporary password: ", 1)[1].strip()
    assert queued(app, template="password_admin_reset")[0].subject == t["mail_admin"]
    held = browser(app, language)
    sign_in(held, EMAIL, temporary)
    assert t["forced"] in text_of(held.get("/password/change"))


def test_the_client_address_limit_message(sqlite_app, language):
    sqlite_app.config["PASSWORD_RESET_PER_CLIENT"] = 1
    http = browser(sqlite_app, language)
    post(http, "/password/forgot", email="a@haugiang.gov.vn")
    refused = post(http, "/password/forgot", email="b@haugiang.gov.vn")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert TEXTS[language]["client_limit"] in text_of(refused)
