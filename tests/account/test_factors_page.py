"""Second factors from the account page: enrolling an authenticator app (QR code drawn on
the server, the secret for typing), the recovery codes shown once, new ones, and removal,
which needs a second factor given again in this session."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from helpers.clock import shift_utcnow
from helpers.factors import (
    code_for,
    enrol,
    give_code,
    recovery_codes_on_page,
    secret_on_page,
    sign_in_with_factor,
)
from helpers.pages import csrf_of, csrf_token, sign_in


def factor_rows(app):
    from idp.extensions import db
    from idp.factors.models import RecoveryCode, TotpFactor

    with app.app_context():
        totp = db.session.execute(sa.select(TotpFactor)).scalars().all()
        codes = db.session.execute(sa.select(RecoveryCode)).scalars().all()
        return [(t.confirmed_at is not None) for t in totp], len(codes)


def post(http, path: str, **data):
    return http.post(path, data={"csrf_token": csrf_of(http, "/account/"), **data})


@pytest.fixture
def signed_in(client, make_user):
    make_user()
    assert sign_in(client).status_code == 302
    return client


def test_the_security_section_offers_enrolment(signed_in):
    html = signed_in.get("/account/").get_data(as_text=True)
    assert '<h2 id="security-title">Bảo mật</h2>' in html
    assert 'id="enrol-totp" href="/account/security/totp"' in html


def test_enrol_with_the_qr_code_and_a_first_code(app, signed_in):
    page = signed_in.get("/account/security/totp")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<svg" in html and 'id="totp-qr"' in html
    secret = secret_on_page(html)
    assert len(secret) == 32
    # Loading the page again shows the same secret (what the app scanned stays valid).
    assert secret_on_page(signed_in.get("/account/security/totp").get_data(as_text=True)) == secret
    answer = post(signed_in, "/account/security/totp", code=code_for(secret))
    assert answer.status_code == 200
    codes = recovery_codes_on_page(answer.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert factor_rows(app) == ([True], 10)
    account = signed_in.get("/account/").get_data(as_text=True)
    assert 'id="remove-totp"' in account and "Còn 10 mã khôi phục chưa dùng." in account
    # Shown once: nothing on the account page shows them again.
    assert all(code not in account for code in codes)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("vi", "Mã xác thực không đúng hoặc đã được dùng."),
        ("en", "The code is wrong or was already used."),
    ],
)
def test_a_wrong_first_code_enrols_nothing(app, signed_in, language, message):
    signed_in.get(f"/lang/{language}")
    secret = secret_on_page(signed_in.get("/account/security/totp").get_data(as_text=True))
    wrong = "000000" if code_for(secret) != "000000" else "111111"
    answer = post(signed_in, "/account/security/totp", code=wrong)
    assert answer.status_code == 401 and message in answer.get_data(as_text=True)
    assert factor_rows(app) == ([False], 0)


def test_enrolling_needs_a_session(client):
    response = client.get("/account/security/totp")
    assert urlsplit(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize(
    "path",
    ["/account/security/totp", "/account/security/totp/remove", "/account/security/recovery-codes"],
)
def test_every_form_needs_its_csrf_token(app, client, make_user, path):
    make_user()
    secret, _ = enrol(app)
    sign_in_with_factor(client, secret)
    response = client.post(path, data={"code": code_for(secret)})
    assert response.status_code == 400
    assert factor_rows(app) == ([True], 10)


def test_removal_needs_a_fresh_second_factor(app, client, make_user, monkeypatch):
    import idp.account.views as account_views
    import idp.interaction.views as views

    make_user()
    secret, _ = enrol(app)
    sign_in_with_factor(client, secret)
    fresh = app.config["FACTOR_FRESH_SECONDS"]
    shift_utcnow(monkeypatch, account_views, fresh + 60)
    shift_utcnow(monkeypatch, views, fresh + 60)
    asked = post(client, "/account/security/totp/remove")
    assert asked.status_code == 302
    location = asked.headers["Location"]
    assert urlsplit(location).path == "/login"
    assert parse_qs(urlsplit(location).query)["step_up"] == ["1"]
    assert factor_rows(app) == ([True], 10)
    # The factor again (no password), then the removal goes through.
    assert client.get(location).headers["Location"] == "/login/factor"
    assert give_code(client, code_for(secret, fresh + 60)).status_code == 302
    removed = post(client, "/account/security/totp/remove")
    assert removed.status_code == 302 and factor_rows(app) == ([], 0)


def test_a_password_only_session_cannot_remove_a_factor(app, client, make_user):
    """Signed in before the factor existed (password only): asked for the factor first."""
    make_user()
    sign_in(client)
    enrol(app)
    asked = post(client, "/account/security/totp/remove")
    assert parse_qs(urlsplit(asked.headers["Location"]).query)["step_up"] == ["1"]
    assert factor_rows(app) == ([True], 10)


def test_new_recovery_codes_replace_the_old_ones(app, client, make_user):
    make_user()
    secret, old = enrol(app)
    sign_in_with_factor(client, secret)
    answer = post(client, "/account/security/recovery-codes")
    new = recovery_codes_on_page(answer.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert answer.headers["Cache-Control"] == "no-store"
    other = app.test_client()
    sign_in(other)
    assert give_code(other, old[0]).status_code == 401
    assert give_code(other, new[0]).status_code == 302


def test_the_english_account_page(app, client, make_user):
    make_user()
    secret, _ = enrol(app)
    sign_in_with_factor(client, secret)
    client.get("/lang/en")
    html = client.get("/account/").get_data(as_text=True)
    assert '<h2 id="security-title">Security</h2>' in html
    assert "10 recovery codes left unused." in html
    assert "Remove the authenticator app" in html


def test_the_enrol_form_is_readable_without_a_code(signed_in):
    signed_in.get("/account/security/totp")
    token = csrf_token(signed_in.get("/account/security/totp").get_data(as_text=True))
    answer = signed_in.post("/account/security/totp", data={"csrf_token": token, "code": ""})
    assert answer.status_code == 400
    assert "Vui lòng nhập mã xác thực." in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("vi", "Biểu mẫu đã hết hạn hoặc không hợp lệ."),
        ("en", "The form has expired or is not valid."),
    ],
)
def test_a_forged_removal_is_a_readable_page(app, client, make_user, language, message):
    make_user()
    secret, _ = enrol(app)
    sign_in_with_factor(client, secret)
    client.get(f"/lang/{language}")
    answer = client.post("/account/security/totp/remove", data={"csrf_token": "forged"})
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)
