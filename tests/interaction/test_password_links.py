"""Activation and reset links: "Quên mật khẩu?", the mail, the page that sets the password,
and every way a link cannot be used (wrong, used, expired, of another purpose, raced)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from helpers.db import count_rows, move_back
from helpers.mailbox import ISSUER, last_link, link_in, path_of, queued
from helpers.pages import csrf_of, sign_in
from helpers.people import EMAIL, PASSWORD
from helpers.session_flow import signed_in_browser

NEW_PASSWORD = "Một-cụm-từ-mới-dễ-nhớ-2027"
ALIAS = "an.nv@stttt.haugiang.gov.vn"


def forgot(http, email: str, **kwargs):
    data = {"email": email, "csrf_token": csrf_of(http, "/password/forgot")}
    return http.post("/password/forgot", data=data, **kwargs)


def set_password(http, path: str, password: str, confirm: str | None = None):
    data = {
        "password": password,
        "confirm": password if confirm is None else confirm,
        "csrf_token": csrf_of(http, path),
    }
    return http.post(path, data=data)


def audit_actions(app, sub_or_subject: str) -> list[tuple[str, str]]:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent)
            .where(AuditEvent.subject == sub_or_subject)
            .order_by(AuditEvent.id)
        ).scalars()
        return [(e.action, e.outcome) for e in rows]


def test_forgot_password_end_to_end(app, client, make_user):
    sub = make_user(aliases=[ALIAS])
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in page and "Quên mật khẩu?" in page

    answer = forgot(client, ALIAS.upper())
    assert answer.status_code == 200
    assert "Kiểm tra hộp thư của bạn" in answer.get_data(as_text=True)
    [mail] = queued(app, template="password_reset")
    # To the account's own (primary) mailbox, in Vietnamese, with a link from the issuer.
    assert mail.recipient == EMAIL and mail.kind == "password_reset" and mail.language == "vi"
    assert mail.subject.startswith("Đặt lại mật khẩu")
    link = link_in(mail.text)
    assert link.startswith(ISSUER + "/password/reset/") and link in mail.html
    assert "hết hạn lúc" in mail.text

    form = client.get(path_of(link))
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    assert "Đặt lại mật khẩu" in body and EMAIL in body
    assert form.headers["Cache-Control"] == "no-store"

    done = set_password(client, path_of(link), NEW_PASSWORD)
    assert done.status_code == 302
    assert done.headers["Location"].startswith("/login?")
    assert "done=reset" in done.headers["Location"]
    welcome = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Mật khẩu đã được đặt lại. Mời bạn đăng nhập bằng mật khẩu mới." in welcome
    assert f'value="{EMAIL}"' in welcome  # the address is filled in

    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 401
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 302
    [notice] = queued(app, template="password_changed")
    assert notice.kind == "notice" and notice.subject == "Mật khẩu của bạn đã thay đổi"
    assert "đã được đặt lại bằng liên kết" in notice.text
    actions = audit_actions(app, sub)
    assert ("password.link_sent", "success") in actions
    assert ("password.reset", "success") in actions


def test_a_used_link_cannot_be_used_again(app, client, make_user):
    make_user()
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    assert set_password(client, path, NEW_PASSWORD).status_code == 302
    again = client.get(path)
    assert again.status_code == 410
    assert "Liên kết này đã được sử dụng" in again.get_data(as_text=True)
    token = csrf_of(client, "/login")
    replay = client.post(
        path,
        data={"password": "Khác-hẳn-2028-x", "confirm": "Khác-hẳn-2028-x", "csrf_token": token},
    )
    assert replay.status_code == 410
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 302


def test_an_expired_link_is_refused_and_a_new_one_can_be_asked_for(app, client, make_user):
    from idp.directory.models import AccountToken

    make_user()
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    move_back(app, AccountToken, expires_at=3601)
    answer = client.get(path)
    assert answer.status_code == 410
    body = answer.get_data(as_text=True)
    assert "Liên kết này đã hết hạn." in body and 'href="/password/forgot"' in body
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    data["csrf_token"] = csrf_of(client, "/login")
    assert client.post(path, data=data).status_code == 410
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/password/reset/not-a-token",
        "/activate/not-a-token",
        "/password/reset/" + "A" * 200,
        "/password/reset/%C3%A9t%C3%A9",
    ],
)
def test_a_wrong_link_says_so(sqlite_app, path):
    answer = sqlite_app.test_client().get(path)
    assert answer.status_code == 404
    assert "Liên kết không hợp lệ." in answer.get_data(as_text=True)


def test_a_policy_breaking_password_does_not_use_the_link(app, client, make_user):
    make_user()
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    short = set_password(client, path, "ngắn")
    assert short.status_code == 400
    assert "Mật khẩu phải có ít nhất 10 ký tự." in short.get_data(as_text=True)
    mismatch = set_password(client, path, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 400
    assert "Hai lần nhập mật khẩu mới không khớp nhau." in mismatch.get_data(as_text=True)
    containing = set_password(client, path, "nguyen.van.an-2027-mới")
    assert containing.status_code == 400
    assert "không được trùng hoặc chứa địa chỉ thư điện tử" in containing.get_data(as_text=True)
    # The link still works.
    assert set_password(client, path, NEW_PASSWORD).status_code == 302


def test_using_a_reset_link_ends_every_session_of_the_person(app, client, make_user):
    make_user()
    elsewhere = signed_in_browser(app)
    assert elsewhere.get("/account/").status_code == 200
    forgot(client, EMAIL)
    assert set_password(client, last_link(app, EMAIL), NEW_PASSWORD).status_code == 302
    assert elsewhere.get("/account/").status_code == 302


def test_an_account_without_password_is_sent_an_activation_link(app, client, make_user):
    sub = make_user(password=None)
    failed = sign_in(client, EMAIL, "anything at all 123")
    assert failed.status_code == 401
    page = failed.get_data(as_text=True)
    assert "Hệ thống có thể gửi liên kết đặt mật khẩu đến hộp thư của bạn" in page

    assert forgot(client, EMAIL).status_code == 200
    assert not queued(app, template="password_reset")
    [mail] = queued(app, template="activation")
    assert mail.kind == "activation" and mail.subject.startswith("Kích hoạt tài khoản")
    path = path_of(link_in(mail.text))
    assert path.startswith("/activate/")
    assert "Kích hoạt tài khoản" in client.get(path).get_data(as_text=True)
    done = set_password(client, path, NEW_PASSWORD)
    assert done.status_code == 302 and "done=activated" in done.headers["Location"]
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Tài khoản đã được kích hoạt. Mời bạn đăng nhập bằng mật khẩu mới." in page
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 302
    [notice] = queued(app, template="password_changed")
    assert notice.subject == "Tài khoản được kích hoạt"
    assert ("password.activate", "success") in audit_actions(app, sub)


def test_a_link_of_one_purpose_does_not_work_for_the_other(app, client, make_user):
    make_user(password=None)
    forgot(client, EMAIL)
    token = last_link(app, EMAIL, "activation").rsplit("/", 1)[1]
    answer = client.get("/password/reset/" + token)
    assert answer.status_code == 404
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    data["csrf_token"] = csrf_of(client, "/login")
    assert client.post("/password/reset/" + token, data=data).status_code == 404
    # Still good where it belongs.
    assert client.get("/activate/" + token).status_code == 200


def test_a_new_password_voids_every_other_open_link(app, client, make_user):
    make_user()
    forgot(client, EMAIL)
    first = last_link(app, EMAIL)
    forgot(client, EMAIL)
    second = last_link(app, EMAIL)
    assert first != second
    assert set_password(client, second, NEW_PASSWORD).status_code == 302
    assert client.get(first).status_code == 410


def test_only_the_hash_of_a_token_is_stored(app, client, make_user):
    import hashlib

    from idp.directory.models import AccountToken
    from idp.extensions import db

    make_user()
    forgot(client, EMAIL)
    token = last_link(app, EMAIL).rsplit("/", 1)[1]
    with app.app_context():
        [row] = db.session.execute(sa.select(AccountToken)).scalars()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(row.__dict__)


def test_unknown_and_disabled_addresses_get_the_same_answer_and_no_mail(app, client, make_user):
    make_user("da.nghi@haugiang.gov.vn", status="disabled")
    for address in ("khong.co@haugiang.gov.vn", "da.nghi@haugiang.gov.vn"):
        answer = forgot(client, address)
        assert answer.status_code == 200
        assert "Kiểm tra hộp thư của bạn" in answer.get_data(as_text=True)
    assert count_rows(app, __import__("idp.mail.models").mail.models.MailMessage) == 0
    assert ("password.reset_request", "failure") in audit_actions(app, "khong.co@haugiang.gov.vn")


def test_a_bad_forgot_form_is_a_readable_page(sqlite_app):
    http = sqlite_app.test_client()
    empty = http.post("/password/forgot", data={"csrf_token": csrf_of(http, "/password/forgot")})
    assert empty.status_code == 400
    assert "Vui lòng nhập địa chỉ thư điện tử." in empty.get_data(as_text=True)
    assert http.post("/password/forgot", data={"email": EMAIL}).status_code == 400


def test_two_uses_of_one_link_at_once_set_one_password(app, make_user):
    """Both requests pass the page's check; the conditional UPDATE lets only one win."""
    make_user()
    http = app.test_client()
    forgot(http, EMAIL)
    path = last_link(app, EMAIL)
    browsers = [app.test_client(), app.test_client()]
    forms = [
        {"password": NEW_PASSWORD + str(i), "confirm": NEW_PASSWORD + str(i)} for i in range(2)
    ]
    for b, form in zip(browsers, forms, strict=True):
        form["csrf_token"] = csrf_of(b, path)
    start = threading.Barrier(2)
    answers: list[int] = [0, 0]

    def use(i: int) -> None:
        start.wait()
        answers[i] = browsers[i].post(path, data=forms[i]).status_code

    threads = [threading.Thread(target=use, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [302, 410]
    winner = answers.index(302)
    assert sign_in(app.test_client(), EMAIL, forms[winner]["password"]).status_code == 302
    assert sign_in(app.test_client(), EMAIL, forms[1 - winner]["password"]).status_code == 401
    assert len(queued(app, template="password_changed")) == 1


def test_use_link_is_atomic_at_the_store(app, make_user):
    """The store itself: a second use in another transaction finds nothing."""
    from idp.directory import tokens
    from idp.directory.models import PURPOSE_RESET
    from idp.directory.store import find_user_by_address
    from idp.extensions import transaction

    make_user()
    with app.app_context(), transaction():
        token = tokens.issue_link(
            find_user_by_address(EMAIL), PURPOSE_RESET, lifetime_seconds=60, actor="test"
        )
    with app.app_context(), transaction():
        assert tokens.use_link(token, PURPOSE_RESET) is not None
    with app.app_context(), transaction():
        assert tokens.use_link(token, PURPOSE_RESET) is None
        assert tokens.check_link(token, PURPOSE_RESET).problem == tokens.LINK_USED


def test_cleanup_removes_links_used_or_expired_a_week_ago(app, client, make_user):
    import json

    from idp.directory.models import AccountToken

    make_user()
    forgot(client, EMAIL)
    old = last_link(app, EMAIL)
    move_back(app, AccountToken, created_at=8 * 86400, expires_at=8 * 86400)
    forgot(client, EMAIL)
    live = last_link(app, EMAIL)
    result = app.test_cli_runner().invoke(args=["cleanup", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["password_links"] == 1
    assert count_rows(app, AccountToken) == 1
    assert client.get(live).status_code == 200 and client.get(old).status_code == 404
