from __future__ import annotations


def test_login_page_is_vietnamese_by_default(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Đăng nhập" in html
    assert "Mật khẩu" in html


def test_sign_in_with_alias_case_insensitive_reaches_account(client, auth, make_user):
    make_user(aliases=["an.nv@haugiang.gov.vn"])
    response = auth.login(email="  AN.NV@HauGiang.gov.vn ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/")
    page = client.get("/account/").get_data(as_text=True)
    assert "Nguyễn Văn An" in page
    assert "an.nv@haugiang.gov.vn" in page


def test_wrong_password_and_unknown_account_get_the_same_message(client, auth, make_user):
    make_user()
    wrong = auth.login(password="not-the-password")
    unknown = auth.login(email="nobody@haugiang.gov.vn", password="not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    msg = "Địa chỉ thư điện tử hoặc mật khẩu không đúng."
    assert msg in wrong.get_data(as_text=True)
    assert msg in unknown.get_data(as_text=True)


def test_post_without_csrf_token_is_refused_readably(client, make_user):
    make_user()
    response = client.post("/login", data={"email": "x@y.vn", "password": "whatever"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)


def test_sign_out_ends_the_session(client, auth, make_user):
    make_user()
    auth.login()
    assert client.get("/account/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/account/").status_code == 302
