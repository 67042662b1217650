"""SSO sessions on the server: the cookie's handle, lifetimes, device and address, the
relying parties recorded with the session, and ending a session exactly once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from helpers.db import move_back
from helpers.pages import csrf_token
from helpers.session_flow import sign_in_to

from idp.sessions.models import SsoSession

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def _sessions(app):
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        return list(db.session.execute(sa.select(SsoSession).order_by(SsoSession.id)).scalars())


def test_the_cookie_carries_only_a_random_handle_whose_hash_is_stored(app, client, auth, make_user):
    make_user()
    auth.login()
    handle = client.get_cookie("idp_sso").value
    [sso] = _sessions(app)
    assert sso.handle_hash == hashlib.sha256(handle.encode()).hexdigest()
    assert handle not in {sso.sid, sso.handle_hash}
    assert len(handle) >= 43 and len(sso.sid) >= 22


def test_the_session_knows_when_how_and_from_where(app, client, make_user):
    make_user()
    page = client.get("/login").get_data(as_text=True)

    client.post(
        "/login",
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": "Mật-khẩu-đủ-dài-2026",
            "csrf_token": csrf_token(page),
        },
        headers={"User-Agent": UA},
    )
    [sso] = _sessions(app)
    assert sso.ip == "127.0.0.1" and sso.user_agent == UA
    assert sso.amr == ["pwd"] and sso.acr == "urn:hg:loa:1"
    assert sso.auth_time == sso.created_at == sso.last_seen_at
    absolute = app.config["SESSION_ABSOLUTE_SECONDS"]
    assert sso.expires_at - sso.created_at == timedelta(seconds=absolute)


def test_idle_lifetime_ends_a_session_unless_kept_signed_in(app, client, auth, make_user):
    make_user()
    auth.login()
    idle = app.config["SESSION_IDLE_SECONDS"]
    move_back(app, SsoSession, last_seen_at=idle - 60)
    assert client.get("/account/").status_code == 200
    move_back(app, SsoSession, last_seen_at=120)
    assert client.get("/account/").status_code == 302


def test_keep_me_signed_in_has_its_own_longer_lifetime(app, client, auth, make_user):
    make_user()
    auth.login(remember="y")
    [sso] = _sessions(app)
    assert sso.remember
    remember = app.config["SESSION_REMEMBER_SECONDS"]
    assert sso.expires_at - sso.created_at == timedelta(seconds=remember)
    move_back(app, SsoSession, last_seen_at=app.config["SESSION_IDLE_SECONDS"] + 60)
    assert client.get("/account/").status_code == 200  # idleness does not end it
    move_back(app, SsoSession, expires_at=remember)
    assert client.get("/account/").status_code == 302  # its lifetime does


def test_relying_parties_are_recorded_with_the_session(app, client, auth, make_user, make_rp):
    from idp.sessions.store import participants

    make_user()
    make_rp("webmail")
    make_rp("portal")
    auth.login()
    sign_in_to(client, "portal")
    sign_in_to(client, "webmail")
    sign_in_to(client, "portal")
    [sso] = _sessions(app)
    with app.app_context():
        assert participants([sso.id]) == {sso.id: ["portal", "webmail"]}


def test_a_session_ends_once_even_when_two_sign_outs_race(app, client, auth, make_user, make_rp):
    from idp.extensions import db
    from idp.sessions.logout import end_sessions

    make_user()
    make_rp("webmail", backchannel_logout_uri="http://127.0.0.1:9/bcl")
    auth.login()
    sign_in_to(client, "webmail")
    [sso] = _sessions(app)
    with app.test_request_context():
        first = end_sessions([sso.id], reason="logout")
        second = end_sessions([sso.id], reason="admin")
        db.session.commit()
    assert first.sids == [sso.sid] and len(first.delivery_ids) == 1
    assert second.sids == [] and second.delivery_ids == []
    [ended] = _sessions(app)
    assert ended.end_reason == "logout"


def test_signing_in_as_someone_else_ends_the_first_persons_session_everywhere(
    app, client, auth, make_user, make_rp
):
    from idp.sessions.models import LogoutDelivery

    make_user()
    make_user("tran.thi.binh@haugiang.gov.vn", given_name="Bình")
    make_rp("webmail", backchannel_logout_uri="http://127.0.0.1:9/bcl")
    auth.login()
    sign_in_to(client, "webmail")
    auth.login("tran.thi.binh@haugiang.gov.vn")
    first, second = _sessions(app)
    assert first.end_reason == "replaced" and second.ended_at is None
    from idp.extensions import db

    with app.app_context():
        [row] = db.session.execute(sa.select(LogoutDelivery)).scalars()
        assert (row.client_id, row.sid, row.reason) == ("webmail", first.sid, "replaced")
