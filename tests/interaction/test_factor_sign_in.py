"""Signing in with a password and then a code of the person's authenticator (or a recovery
code): the pending sign-in between them, and every way the second step can go wrong."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers.clock import shift_utcnow
from helpers.factors import code_for, enrol, give_code, sign_in_with_factor
from helpers.pages import sign_in
from helpers.people import EMAIL, PASSWORD


def sessions(app):
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        return [
            (s.acr, list(s.amr), dict(s.auth_times or {}))
            for s in db.session.execute(sa.select(SsoSession)).scalars()
        ]


@pytest.fixture
def person(app, make_user):
    make_user()
    secret, codes = enrol(app)
    return secret, codes


def test_password_then_code_opens_a_session_at_the_second_level(app, client, person):
    secret, _codes = person
    first = sign_in(client, next="/account/")
    assert first.status_code == 302 and first.headers["Location"] == "/login/factor"
    # No session yet: the account page still asks to sign in.
    assert sessions(app) == []
    assert urlsplit(client.get("/account/").headers["Location"]).path == "/login"
    page = client.get("/login/factor").get_data(as_text=True)
    assert "Xác thực hai bước" in page and 'autocomplete="one-time-code"' in page
    answer = give_code(client, code_for(secret))
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/"
    [(acr, amr, times)] = sessions(app)
    assert acr == "urn:hg:loa:2" and amr == ["pwd", "otp", "mfa"]
    assert set(times) == {"pwd", "otp"}
    assert client.get("/account/").status_code == 200


def test_a_person_without_a_factor_signs_in_with_the_password_alone(app, client, make_user):
    make_user()
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/account/"
    [(acr, amr, _times)] = sessions(app)
    assert acr == "urn:hg:loa:1" and amr == ["pwd"]


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("vi", "Mã xác thực không đúng hoặc đã được dùng."),
        ("en", "The code is wrong or was already used."),
    ],
)
def test_a_wrong_code_is_refused_in_the_readers_language(app, client, person, language, message):
    client.get(f"/lang/{language}")
    sign_in(client)
    answer = give_code(client, "000000" if code_for(person[0]) != "000000" else "111111")
    assert answer.status_code == 401
    assert message in answer.get_data(as_text=True)
    assert sessions(app) == []


def test_a_code_is_never_accepted_twice(app, client, person, monkeypatch):
    import idp.interaction.views as views

    secret, _ = person
    code = code_for(secret)
    sign_in(client)
    assert give_code(client, code).status_code == 302
    other = app.test_client()
    sign_in(other)
    again = give_code(other, code)
    assert again.status_code == 401
    # The next time step's code is fine.
    shift_utcnow(monkeypatch, views, 30)
    assert give_code(other, code_for(secret, 30)).status_code == 302


@pytest.mark.parametrize("seconds", [-30, 30])
def test_one_step_of_clock_drift_each_way(client, person, seconds):
    secret, _ = person
    sign_in(client)
    assert give_code(client, code_for(secret, seconds)).status_code == 302


@pytest.mark.parametrize("seconds", [-90, 90])
def test_an_expired_or_future_code_is_refused(client, person, seconds):
    secret, _ = person
    sign_in(client)
    assert give_code(client, code_for(secret, seconds)).status_code == 401


def test_a_recovery_code_works_once(app, client, person):
    _secret, codes = person
    sign_in(client)
    assert give_code(client, codes[0].upper().replace("-", " ")).status_code == 302
    [(acr, amr, _)] = sessions(app)
    assert acr == "urn:hg:loa:2" and "otp" in amr
    other = app.test_client()
    sign_in(other)
    assert give_code(other, codes[0]).status_code == 401
    assert give_code(other, codes[1]).status_code == 302


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("vi", "Bạn đã nhập sai mã xác thực quá nhiều lần. Vui lòng đăng nhập lại."),
        ("en", "Too many wrong codes. Please sign in again."),
    ],
)
def test_the_pending_sign_in_locks_after_a_few_wrong_codes(app, client, person, language, message):
    client.get(f"/lang/{language}")
    secret, _ = person
    sign_in(client)
    attempts = app.config["FACTOR_MAX_ATTEMPTS"]
    wrong = "000000" if code_for(secret) != "000000" else "111111"
    for _ in range(attempts - 1):
        assert give_code(client, wrong).status_code == 401
    last = give_code(client, wrong)
    assert last.status_code == 401 and message in last.get_data(as_text=True)
    # Even the right code no longer helps: the password must be typed again.
    assert give_code(client, code_for(secret)).status_code == 400
    assert sessions(app) == []


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("vi", "Phiên xác thực đã hết hạn hoặc không còn hiệu lực. Vui lòng đăng nhập lại."),
        ("en", "This sign-in has expired or is no longer valid. Please sign in again."),
    ],
)
def test_an_expired_pending_sign_in(app, client, person, monkeypatch, language, message):
    import idp.interaction.views as views

    client.get(f"/lang/{language}")
    secret, _ = person
    sign_in(client)
    seconds = app.config["FACTOR_PENDING_SECONDS"] + 1
    shift_utcnow(monkeypatch, views, seconds)
    answer = give_code(client, code_for(secret, seconds))
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    page = client.get("/login/factor")
    assert page.status_code == 200 and message in page.get_data(as_text=True)


def test_the_factor_page_without_a_pending_sign_in(client):
    page = client.get("/login/factor")
    assert page.status_code == 200 and 'href="/login"' in page.get_data(as_text=True)


def test_an_empty_code_is_a_readable_error(client, person):
    sign_in(client)
    answer = give_code(client, "")
    assert answer.status_code == 400
    assert "Vui lòng nhập mã xác thực." in answer.get_data(as_text=True)


def test_remember_and_next_survive_the_second_step(app, client, person):
    secret, _ = person
    sign_in(client, next="/account/?x=1", remember="y")
    answer = give_code(client, code_for(secret))
    assert answer.headers["Location"] == "/account/?x=1"
    cookie = answer.headers.getlist("Set-Cookie")
    assert any("idp_sso=" in c and "Max-Age" in c for c in cookie)


def test_signing_in_again_keeps_the_session_and_records_both_methods(
    app, client, person, monkeypatch
):
    import idp.interaction.views as views

    secret, _ = person
    sign_in_with_factor(client, secret)
    shift_utcnow(monkeypatch, views, 60)
    sign_in(client)
    assert give_code(client, code_for(secret, 60)).status_code == 302
    [(acr, amr, times)] = sessions(app)
    assert acr == "urn:hg:loa:2" and amr == ["pwd", "otp", "mfa"]


def test_required_role_enrols_before_the_session(app, client, make_user):
    from helpers.factors import recovery_codes_on_page, secret_on_page

    make_user(roles=["admin"])
    first = sign_in(client, next="/account/")
    assert first.headers["Location"] == "/login/factor"
    page = client.get("/login/factor").get_data(as_text=True)
    assert "<svg" in page and "Thiết lập xác thực hai bước" in page
    secret = secret_on_page(page)
    # A wrong first code: the enrolment page again, no session.
    wrong = give_code(client, "000000" if code_for(secret) != "000000" else "111111")
    assert wrong.status_code == 401 and "<svg" in wrong.get_data(as_text=True)
    assert sessions(app) == []
    done = give_code(client, code_for(secret))
    assert done.status_code == 200
    codes = recovery_codes_on_page(done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    [(acr, amr, _)] = sessions(app)
    assert acr == "urn:hg:loa:2" and amr == ["pwd", "otp", "mfa"]


def test_a_password_for_a_person_with_a_factor_is_logged_but_no_session(app, client, person):
    from idp.audit import AuditEvent
    from idp.extensions import db

    sign_in(client, EMAIL, PASSWORD)
    with app.app_context():
        actions = [e.action for e in db.session.execute(sa.select(AuditEvent)).scalars()]
    assert "login" in actions and "login_factor" not in actions
    assert sessions(app) == []


TEXTS = {
    "vi": {
        "heading": "Xác thực hai bước",
        "explain": "Mở ứng dụng xác thực trên điện thoại",
        "empty": "Vui lòng nhập mã xác thực.",
        "long": "Mã xác thực không đúng.",
        "enrol": "Thiết lập xác thực hai bước",
        "codes": "Các mã này chỉ hiển thị một lần.",
        "held": "Đăng nhập sai quá nhiều lần.",
    },
    "en": {
        "heading": "Two-step verification",
        "explain": "Open the authenticator app on your phone",
        "empty": "Please enter the code.",
        "long": "The code is not valid.",
        "enrol": "Set up two-step verification",
        "codes": "They are shown only this once.",
        "held": "Too many failed sign-in attempts.",
    },
}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_factor_page_and_message_in_both_languages(app, client, make_user, language):
    from helpers.factors import recovery_codes_on_page, secret_on_page

    texts = TEXTS[language]
    make_user()
    make_user("admin@haugiang.gov.vn", roles=["admin"])
    secret, _ = enrol(app)
    client.get(f"/lang/{language}")
    sign_in(client)
    page = client.get("/login/factor").get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    assert texts["heading"] in page and texts["explain"] in page
    assert texts["empty"] in give_code(client, "").get_data(as_text=True)
    assert texts["long"] in give_code(client, "1" * 40).get_data(as_text=True)
    # Enrolment while signing in, and the recovery codes.
    admin = app.test_client()
    admin.get(f"/lang/{language}")
    sign_in(admin, "admin@haugiang.gov.vn")
    enrol_page = admin.get("/login/factor").get_data(as_text=True)
    assert texts["enrol"] in enrol_page
    done = give_code(admin, code_for(secret_on_page(enrol_page))).get_data(as_text=True)
    assert texts["codes"] in done and len(recovery_codes_on_page(done)) == 10


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize(
    "app_config", [{"FACTOR_MAX_ATTEMPTS": 10, "LOGIN_THROTTLE_FREE_ATTEMPTS": 1}]
)
def test_the_held_back_message_in_both_languages(app, client, make_user, language):
    make_user()
    secret, _ = enrol(app)
    client.get(f"/lang/{language}")
    sign_in(client)
    wrong = "000000" if code_for(secret) != "000000" else "111111"
    give_code(client, wrong)
    give_code(client, wrong)
    held = give_code(client, code_for(secret))
    assert held.status_code == 429 and TEXTS[language]["held"] in held.get_data(as_text=True)


@pytest.mark.parametrize(
    ("app_config", "offers_passkey"),
    [({"ISSUER": "http://127.0.0.1:8000"}, False), ({"ISSUER": "http://localhost:8000"}, True)],
)
def test_enrolment_offers_a_passkey_only_where_passkeys_work(
    app, client, make_user, offers_passkey
):
    """On an issuer at an IP address browsers refuse passkeys: the page neither shows the
    passkey form nor tells the person to add one."""
    make_user(roles=["admin"])
    sign_in(client, next="/account/")
    page = client.get("/login/factor").get_data(as_text=True)
    assert "Thiết lập xác thực hai bước" in page
    assert ("thêm một khóa truy cập" in page) is offers_passkey
    assert ('id="passkey-add"' in page) is offers_passkey
