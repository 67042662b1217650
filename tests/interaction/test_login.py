"""The sign-in and sign-out pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from argon2 import extract_parameters
from helpers.people import PASSWORD

from idp.audit import AuditEvent
from idp.extensions import db

WRONG = "not-the-password"
SAME_MESSAGE = "Địa chỉ thư điện tử hoặc mật khẩu không đúng."


def test_login_page_is_vietnamese_by_default(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "<h1>Đăng nhập</h1>" in html
    assert 'for="password">Mật khẩu</label>' in html
    assert "Ủy ban nhân dân tỉnh Hậu Giang" in html


def test_sign_in_with_alias_case_insensitive_reaches_account(client, auth, make_user):
    make_user(aliases=["an.nv@haugiang.gov.vn"])
    response = auth.login(email="  AN.NV@HauGiang.gov.vn ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/")
    page = client.get("/account/").get_data(as_text=True)
    assert "Nguyễn Văn An" in page
    assert "an.nv@haugiang.gov.vn" in page


@pytest.mark.parametrize(
    "typed",
    ["NGUYEN.VAN.AN@HAUGIANG.GOV.VN", "Nguyen.Van.An@haugiang.gov.vn", "an.nv@HAUGIANG.gov.vn"],
)
def test_every_address_of_the_user_signs_in_whatever_the_case(client, auth, make_user, typed):
    make_user(aliases=["an.nv@haugiang.gov.vn"])
    assert auth.login(email=typed).status_code == 302
    assert client.get("/account/").status_code == 200


def test_wrong_password_and_unknown_account_get_the_same_answer_and_the_same_work(
    client, auth, make_user, argon2_verifications
):
    make_user()
    make_user("khong.mat.khau@haugiang.gov.vn", password=None, given_name="Bình")
    make_user("da.nghi@haugiang.gov.vn", status="disabled", given_name="Cường")
    auth.csrf_token()  # the page itself costs no verification
    argon2_verifications.clear()

    answers = {
        "wrong password": auth.login(password=WRONG),
        "unknown account": auth.login(email="nobody@haugiang.gov.vn", password=WRONG),
        "account without password": auth.login(
            email="khong.mat.khau@haugiang.gov.vn", password=WRONG
        ),
        "disabled account, right password": auth.login(email="da.nghi@haugiang.gov.vn"),
    }
    for what, response in answers.items():
        assert response.status_code == 401, what
        html = response.get_data(as_text=True)
        assert SAME_MESSAGE in html, what
        assert "idp_sso=" not in response.headers.get("Set-Cookie", ""), what
    # Exactly one argon2 verification per attempt, each with the same (configured) cost.
    assert len(argon2_verifications) == len(answers)
    costs = {
        (p.type.name, p.memory_cost, p.time_cost, p.parallelism)
        for p in map(extract_parameters, argon2_verifications)
    }
    assert costs == {("ID", 1024, 1, 1)}


def test_failed_attempts_are_audited_without_the_password(app, auth, make_user):
    sub = make_user()
    auth.login(password=WRONG)
    auth.login(email="nobody@haugiang.gov.vn", password=WRONG)
    with app.app_context():
        events = (
            db.session.query(AuditEvent).filter_by(action="login").order_by(AuditEvent.id).all()
        )
        assert [(e.subject, e.outcome, e.detail["reason"]) for e in events] == [
            (sub, "failure", "bad_password"),
            ("nobody@haugiang.gov.vn", "failure", "unknown_account"),
        ]
        assert all(WRONG not in repr(e.detail) for e in events)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "", "password": PASSWORD}, "Vui lòng nhập địa chỉ thư điện tử."),
        ({"email": "nguyen.van.an@haugiang.gov.vn", "password": ""}, "Vui lòng nhập mật khẩu."),
        (
            {"email": "a" * 400 + "@haugiang.gov.vn", "password": PASSWORD},
            "Địa chỉ thư điện tử quá dài.",
        ),
        ({"email": "nguyen.van.an@haugiang.gov.vn", "password": "x" * 5000}, "Mật khẩu quá dài."),
        (
            {"email": "an\x01@haugiang.gov.vn", "password": PASSWORD},
            "Địa chỉ thư điện tử không hợp lệ.",
        ),
    ],
)
def test_bad_form_input_gets_a_readable_message_tied_to_the_field(
    client, auth, make_user, data, message
):
    make_user()
    response = client.post("/login", data={**data, "csrf_token": auth.csrf_token()})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    field = "email" if "thư điện tử" in message else "password"
    # The message is announced and tied to its input.
    assert re.search(rf'<p class="field-error" id="{field}-error" role="alert">', html)
    tag = re.search(rf'<input [^>]*id="{field}"[^>]*>', html).group(0)
    assert f'aria-describedby="{field}-error"' in tag
    assert 'aria-invalid="true"' in tag
    assert client.get("/account/").status_code == 302


def test_nul_bytes_are_refused_before_reaching_the_database(client, auth, make_user):
    make_user()
    for data in ({"email": "an\x00@haugiang.gov.vn"}, {"password": "x\x00"}, {"next": "/\x00"}):
        form = {"email": "nguyen.van.an@haugiang.gov.vn", "password": PASSWORD, **data}
        response = client.post("/login", data={**form, "csrf_token": auth.csrf_token()})
        assert response.status_code == 400
        assert "Yêu cầu không hợp lệ" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_wrong_password_message_is_announced_and_tied_to_both_inputs(client, auth, make_user):
    make_user()
    html = auth.login(password=WRONG).get_data(as_text=True)
    error = '<div class="alert" role="alert" id="form-error" tabindex="-1" autofocus>'
    assert f"{error}{SAME_MESSAGE}</div>" in html
    for field in ("email", "password"):
        tag = re.search(rf'<input [^>]*id="{field}"[^>]*>', html).group(0)
        assert 'aria-describedby="form-error"' in tag
    # The typed address stays in the form, the password does not.
    assert 'value="nguyen.van.an@haugiang.gov.vn"' in html
    assert WRONG not in html


def test_post_without_csrf_token_is_refused_readably(client, make_user):
    make_user()
    response = client.post("/login", data={"email": "x@y.vn", "password": "whatever"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)


def test_post_with_a_forged_csrf_token_is_refused(client, make_user):
    make_user()
    client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": PASSWORD,
            "csrf_token": "forged",
        },
    )
    assert response.status_code == 400
    assert client.get("/account/").status_code == 302


def test_sign_out_asks_then_ends_the_session(client, auth, make_user):
    make_user()
    auth.login()
    assert client.get("/account/").status_code == 200
    confirm = client.get("/logout")
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert "Bạn đang đăng nhập với tên Nguyễn Văn An." in html
    assert 'name="csrf_token"' in html
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/logged-out")
    assert "idp_sso=;" in response.headers["Set-Cookie"]
    assert client.get("/account/").status_code == 302
    done = client.get("/logged-out").get_data(as_text=True)
    assert "Bạn đã đăng xuất" in done


def test_sign_out_post_needs_the_csrf_token(client, auth, make_user):
    make_user()
    auth.login()
    assert client.post("/logout", data={}).status_code == 400
    assert client.get("/account/").status_code == 200


def test_sign_out_when_not_signed_in_goes_to_the_signed_out_page(client):
    response = client.get("/logout")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/logged-out")


def test_account_page_sends_strangers_to_sign_in_and_back(client, auth, make_user):
    make_user()
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/account/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/account/"' in page


def test_login_hint_fills_the_address(client):
    html = client.get("/login?login_hint=tran.thi.binh@haugiang.gov.vn").get_data(as_text=True)
    assert 'value="tran.thi.binh@haugiang.gov.vn"' in html


def test_remember_me_makes_a_persistent_cookie(client, auth, make_user):
    make_user()
    from idp.sessions import SSO_COOKIE

    def sso_cookie(response) -> str:
        (header,) = [
            h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{SSO_COOKIE}=")
        ]
        return header

    plain = auth.login()
    assert "Expires=" not in sso_cookie(plain)
    auth.logout()
    remembered = auth.login(remember="y")
    assert "Expires=" in sso_cookie(remembered)
