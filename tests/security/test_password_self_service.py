"""Attacks on activation, "Quên mật khẩu?" and changing a password.

- enumeration: the forgot-password answer, and the sign-in failure that offers a link, are
  the same page with the same status for an account, one without password, a disabled
  one and no account; both paths render the mail (no cheap path for "no account");
- token replay, a token of one purpose used for the other, an expired token, a link of an
  account disabled since;
- Host header / issuer poisoning of the link in the mail;
- mail flooding of a victim (per-address limit, whatever the client address);
- CSRF on the change of password; a held sign-in replayed after the password changed;
- open redirect through `next` of a forced change, and text smuggled into the sign-in page
  through `done` or `email`;
- the raw token is neither logged nor kept: only its hash is stored, and the sent mail's
  copy is removed once the SMTP server has it.
"""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from helpers.db import count_rows, move_back
from helpers.mailbox import ISSUER, last_link, link_in, queued
from helpers.pages import csrf_of, sign_in
from helpers.people import EMAIL, PASSWORD
from helpers.session_flow import signed_in_browser
from mail.smtp_server import smtp_server, smtp_settings  # noqa: F401  (a fixture)

NEW = "Một-cụm-từ-mới-dễ-nhớ-2027"
CSRF_VALUE = re.compile(r'value="[A-Za-z0-9._-]{40,}"')


def forgot(http, email: str, **kwargs):
    data = {"email": email, "csrf_token": csrf_of(http, "/password/forgot", **kwargs)}
    return http.post("/password/forgot", data=data, **kwargs)


def use(http, path: str, password: str = NEW):
    data = {"password": password, "confirm": password, "csrf_token": csrf_of(http, "/login")}
    return http.post(path, data=data)


def normalised(html: str, *addresses: str) -> str:
    html = CSRF_VALUE.sub('value="csrf"', html)
    for address in addresses:
        html = html.replace(address, "ADDRESS")
    return html


# -- enumeration ----------------------------------------------------------------------------


def test_forgot_password_answers_alike_for_every_kind_of_address(app, make_user):
    make_user("co.mat.khau@haugiang.gov.vn")
    make_user("chua.kich.hoat@haugiang.gov.vn", None)
    make_user("da.khoa@haugiang.gov.vn", status="disabled")
    addresses = [
        "co.mat.khau@haugiang.gov.vn",
        "chua.kich.hoat@haugiang.gov.vn",
        "da.khoa@haugiang.gov.vn",
        "khong.ton.tai@haugiang.gov.vn",
    ]
    answers = []
    for address in addresses:
        response = forgot(app.test_client(), address)
        answers.append((response.status_code, normalised(response.get_data(as_text=True), address)))
    assert len(set(answers)) == 1 and answers[0][0] == 200


def test_both_forgot_paths_render_the_mail(app, make_user, monkeypatch):
    """No cheap path for an address that is no account: the mail is rendered either way."""
    make_user()
    rendered: list[str] = []
    original = app.jinja_env.get_template

    def spy(name, *args, **kwargs):
        rendered.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(app.jinja_env, "get_template", spy)
    for address in (EMAIL, "khong.ton.tai@haugiang.gov.vn"):
        rendered.clear()
        forgot(app.test_client(), address)
        assert "mail/password_reset.txt" in rendered and "mail/password_reset.html" in rendered


def test_the_sign_in_failure_offers_a_link_to_everyone_alike(app, make_user):
    make_user("co.mat.khau@haugiang.gov.vn")
    make_user("chua.kich.hoat@haugiang.gov.vn", None)
    answers = set()
    for address in (
        "co.mat.khau@haugiang.gov.vn",
        "chua.kich.hoat@haugiang.gov.vn",
        "khong.ton.tai@haugiang.gov.vn",
    ):
        response = sign_in(app.test_client(), address, "sai mật khẩu rồi")
        answers.add((response.status_code, normalised(response.get_data(as_text=True), address)))
    assert len(answers) == 1
    status, page = answers.pop()
    assert status == 401 and "/password/forgot?email=ADDRESS" in page


# -- links ----------------------------------------------------------------------------------


def test_a_link_is_replayed_after_use(app, client, make_user):
    make_user()
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    assert use(client, path).status_code == 302
    assert use(app.test_client(), path, "Mật-khẩu-kẻ-gian-2027").status_code == 410
    assert sign_in(app.test_client(), EMAIL, NEW).status_code == 302


def test_a_token_of_one_purpose_is_used_for_the_other(app, client, make_user):
    make_user("chua.kich.hoat@haugiang.gov.vn", None)
    make_user()
    forgot(client, "chua.kich.hoat@haugiang.gov.vn")
    forgot(client, EMAIL)
    activation = last_link(app, "chua.kich.hoat@haugiang.gov.vn", "activation").rsplit("/", 1)[1]
    reset = last_link(app, EMAIL).rsplit("/", 1)[1]
    assert use(client, "/password/reset/" + activation).status_code == 404
    assert use(client, "/activate/" + reset).status_code == 404
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302


def test_an_expired_link_sets_nothing(app, client, make_user):
    from idp.directory.models import AccountToken

    make_user()
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    move_back(app, AccountToken, expires_at=app.config["PASSWORD_RESET_LINK_SECONDS"] + 1)
    assert use(client, path).status_code == 410
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302


def test_a_link_of_an_account_disabled_since_is_refused(app, client, make_user):
    make_user()
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    assert app.test_cli_runner().invoke(args=["users", "disable", EMAIL]).exit_code == 0
    assert client.get(path).status_code == 404
    assert use(client, path).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Forwarded": "host=evil.example;proto=https"},
    ],
)
def test_the_link_is_built_from_the_issuer_never_the_host_header(sqlite_app, headers):
    from idp.directory.models import User
    from idp.directory.store import set_addresses
    from idp.extensions import db

    with sqlite_app.app_context():
        user = User(family_name="Nguyễn", given_name="An")
        set_addresses(user, EMAIL, [])
        db.session.add(user)
        db.session.commit()
    http = sqlite_app.test_client()
    answer = forgot(http, EMAIL, base_url="http://evil.example", headers=headers)
    assert answer.status_code == 200
    [mail] = queued(sqlite_app)
    assert link_in(mail.text).startswith(ISSUER + "/activate/")
    assert "evil.example" not in mail.text and "evil.example" not in mail.html


# -- flooding -------------------------------------------------------------------------------


def test_a_victim_is_not_flooded_with_mail(app, make_user):
    """From many client addresses, through every address of the account."""
    addresses = [EMAIL, "an.nv@stttt.haugiang.gov.vn", "AN.NV@stttt.haugiang.gov.vn"]
    make_user(aliases=addresses[1:2])
    per_address = app.config["PASSWORD_RESET_PER_ADDRESS"]
    for i in range(per_address + 7):
        http = app.test_client()
        http.environ_base["REMOTE_ADDR"] = f"198.51.100.{i + 1}"
        answer = forgot(http, addresses[i % 3])
        assert answer.status_code == 200  # the same answer, sent or not
    assert len(queued(app, to=EMAIL)) == per_address
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        refused = db.session.execute(
            sa.select(sa.func.count()).where(
                AuditEvent.action == "password.reset_request",
                AuditEvent.outcome == "refused",
            )
        ).scalar_one()
    assert refused == 7


def test_one_client_cannot_spray_many_addresses(sqlite_app):
    limit = sqlite_app.config["PASSWORD_RESET_PER_CLIENT"]
    http = sqlite_app.test_client()
    statuses = [forgot(http, f"nguoi{i}@haugiang.gov.vn").status_code for i in range(limit + 2)]
    assert statuses[:limit] == [200] * limit and statuses[limit:] == [429, 429]


# -- change of password ---------------------------------------------------------------------


def test_change_password_refuses_a_forged_request(app, make_user):
    make_user()
    victim = signed_in_browser(app)
    data = {"current": PASSWORD, "password": NEW, "confirm": NEW}
    assert victim.post("/password/change", data=data).status_code == 400
    other = signed_in_browser(app)
    data["csrf_token"] = csrf_of(other, "/account/")
    assert victim.post("/password/change", data=data).status_code == 400
    assert sign_in(app.test_client(), EMAIL, PASSWORD).status_code == 302


def test_a_held_sign_in_is_void_once_the_password_changed(app, make_user):
    make_user()
    result = app.test_cli_runner().invoke(args=["users", "reset-password", EMAIL])
    temporary = result.output.rsplit("Temporary password: ", 1)[1].strip()
    http = app.test_client()
    sign_in(http, EMAIL, temporary)
    stolen = http.get_cookie("idp_ui").value
    done = http.post(
        "/password/change",
        data={"password": NEW, "confirm": NEW, "csrf_token": csrf_of(http, "/password/change")},
    )
    assert done.status_code == 302
    replay = app.test_client()
    replay.set_cookie("idp_ui", stolen, domain="localhost")
    answer = replay.get("/password/change")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_a_forced_change_never_redirects_off_site(app, make_user):
    make_user()
    result = app.test_cli_runner().invoke(args=["users", "reset-password", EMAIL])
    temporary = result.output.rsplit("Temporary password: ", 1)[1].strip()
    http = app.test_client()
    sign_in(http, EMAIL, temporary, next="//evil.example/steal")
    done = http.post(
        "/password/change",
        data={"password": NEW, "confirm": NEW, "csrf_token": csrf_of(http, "/password/change")},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/account/"


def test_nothing_from_the_url_is_shown_as_a_message(sqlite_app):
    http = sqlite_app.test_client()
    page = http.get("/login?done=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "form-notice" not in page
    forgot_page = http.get('/password/forgot?email="><script>x</script>').get_data(as_text=True)
    assert "<script>x</script>" not in forgot_page


# -- the token is not kept ------------------------------------------------------------------


def test_the_raw_token_is_never_logged(app, client, make_user, caplog):
    make_user()
    caplog.set_level(logging.DEBUG)
    forgot(client, EMAIL)
    path = last_link(app, EMAIL)
    use(client, path)
    token = path.rsplit("/", 1)[1]
    assert token not in caplog.text
    assert count_rows(app, __import__("idp.audit").audit.AuditEvent) > 0
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        details = [repr(e.detail) for e in db.session.execute(sa.select(AuditEvent)).scalars()]
    assert not any(token in d for d in details)


def test_a_sent_link_is_removed_from_the_outbox(sqlite_app, smtp_server):  # noqa: F811
    from idp.directory.models import User
    from idp.directory.store import set_addresses
    from idp.extensions import db
    from idp.mail.outbox import BODY_REMOVED
    from idp.mail.worker import send_due

    sqlite_app.config.update(smtp_settings(smtp_server))
    with sqlite_app.app_context():
        user = User(family_name="Nguyễn", given_name="An")
        set_addresses(user, EMAIL, [])
        db.session.add(user)
        db.session.commit()
    forgot(sqlite_app.test_client(), EMAIL)
    link = link_in(queued(sqlite_app)[0].text)
    with sqlite_app.app_context():
        assert send_due() == {"sent": 1}
    [received] = smtp_server.received
    assert link in received.message.get_body(("plain",)).get_content()
    [kept] = queued(sqlite_app)
    assert kept.text == BODY_REMOVED and kept.html == BODY_REMOVED
