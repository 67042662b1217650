"""Anonymous requests cannot grow tables without bound (issue 8, finding 5).

The attack: 150 posts to an already-throttled address, all with one CSRF token (tokens never
expired), wrote 150 audit rows in 4 s without any argon2 work, and nothing ever deleted
audit, throttle or ended-session rows. Now a refused attempt is counted in its throttle row
and audited once per delay, CSRF tokens last CSRF_TIME_LIMIT_SECONDS, and `idp cleanup`
applies a retention to audit events, throttle counters and ended sessions.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.db import count_rows
from helpers.oidc_flow import RelyingParty
from helpers.pages import AuthActions, csrf_of
from helpers.people import EMAIL as PRIMARY
from helpers.people import PASSWORD
from helpers.throttle import fail_repeatedly
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from idp.audit import AuditEvent
from idp.extensions import db, utcnow
from idp.sessions.models import LoginThrottle, SsoSession

DAY = timedelta(days=1)


def _post_login(client, token: str, email: str, password: str = "wrong-password"):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.mark.parametrize("held_back", ["account", "address"])
def test_150_posts_while_throttled_write_a_bounded_number_of_rows(
    app, client, make_user, argon2_verifications, held_back
):
    make_user()
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    if held_back == "account":
        fail_repeatedly(app, AuthActions(client), [PRIMARY], free + 8)
        addresses = [PRIMARY]
    else:
        spray = [f"user{i}@haugiang.gov.vn" for i in range(60)]
        fail_repeatedly(app, AuthActions(client), spray, free * 10 + 8)
        addresses = [f"other{i}@haugiang.gov.vn" for i in range(150)]
    audit_before, throttle_before = count_rows(app, AuditEvent), count_rows(app, LoginThrottle)
    argon2_verifications.clear()

    token = csrf_of(client, "/login")
    started = time.monotonic()
    for i in range(150):
        assert _post_login(client, token, addresses[i % len(addresses)]).status_code == 429
    elapsed = time.monotonic() - started

    assert argon2_verifications == []
    # The first refusal of a delay is audited; the others are counted in the throttle row.
    assert count_rows(app, AuditEvent) - audit_before <= 1
    assert count_rows(app, LoginThrottle) == throttle_before
    with app.app_context():
        refused = db.session.execute(sa.select(sa.func.sum(LoginThrottle.refused))).scalar_one()
        assert refused >= 150
    print(f"150 refused posts ({held_back}): {elapsed:.2f} s")


def _csrf_token_issued(app, client, seconds_ago: int, path: str = "/login") -> str:
    """A CSRF token for this browser's session, as Flask-WTF issued it `seconds_ago`."""
    client.get(path)
    with client.session_transaction() as session:
        raw = session["csrf_token"]

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds_ago

    serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token", signer=Then)
    return serializer.dumps(raw)


def test_an_expired_csrf_token_is_refused_with_a_readable_page(app, client, make_user):
    make_user()
    limit = app.config["CSRF_TIME_LIMIT_SECONDS"]
    assert 0 < limit <= 24 * 3600
    old = _csrf_token_issued(app, client, limit + 60)
    response = client.post(
        "/login",
        data={"email": PRIMARY, "password": PASSWORD, "csrf_token": old, "next": "/account/"},
        headers={"Referer": "http://localhost/login?next=/account/"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Biểu mẫu đã hết hạn" in html and 'role="alert"' in html
    # A way back to a fresh form, where the person was.
    assert 'href="/login?next=/account/"' in html
    assert client.get("/account/").status_code == 302

    # English pages say it in English.
    client.get("/lang/en")
    english = _post_login(client, old, PRIMARY, PASSWORD).get_data(as_text=True)
    assert "The form has expired" in english

    # A token well within its lifetime works.
    recent = _csrf_token_issued(app, client, limit - 60)
    assert _post_login(client, recent, PRIMARY, PASSWORD).status_code == 302


def _age_sessions(app, *, ended_days: float | None = None, expired_days: float | None = None):
    """Move the newest session into the past."""
    with app.app_context():
        sso = db.session.execute(
            sa.select(SsoSession).order_by(SsoSession.id.desc()).limit(1)
        ).scalar_one()
        now = utcnow()
        if ended_days is not None:
            sso.ended_at, sso.end_reason = now - ended_days * DAY, "logout"
        if expired_days is not None:
            sso.expires_at = now - expired_days * DAY
        db.session.commit()
        return sso.id


def test_cleanup_removes_old_audit_throttle_and_session_rows_and_keeps_recent_ones(
    app, client, make_user, runner
):
    from idp.sessions.models import SessionClient

    make_user()
    make_client(app)
    rp = RelyingParty(client)
    now = utcnow()
    keep_days = app.config["AUDIT_RETENTION_DAYS"]
    session_days = app.config["SESSION_RETENTION_DAYS"]
    with app.app_context():
        for days in (keep_days + 35, keep_days + 1, keep_days - 1, 0):
            db.session.add(AuditEvent(at=now - days * DAY, actor="t", action=f"old-{days}"))
        window = timedelta(seconds=app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
        db.session.add_all(
            [
                # Forgotten: no failure for longer than the window.
                LoginThrottle(
                    key="ip:192.0.2.1",
                    failures=9,
                    window_start=now - 3 * window,
                    last_failure_at=now - 2 * window,
                ),
                # Still counting, and one still blocked.
                LoginThrottle(
                    key="ip:192.0.2.2", failures=2, window_start=now, last_failure_at=now
                ),
                LoginThrottle(
                    key="ip:192.0.2.3",
                    failures=60,
                    window_start=now - 2 * window,
                    last_failure_at=now - timedelta(seconds=10),
                    blocked_until=now + timedelta(seconds=300),
                ),
            ]
        )
        db.session.commit()

    # A session that ended long ago, with an application in it and an offline grant ...
    old = rp.tokens(scope="openid offline_access")
    old_sso = _age_sessions(app, ended_days=session_days + 1)
    # ... one that ran out long ago without a sign-out, one that ended yesterday, a live one.
    rp.tokens(scope="openid")
    expired_sso = _age_sessions(app, expired_days=session_days + 1)
    rp.tokens(scope="openid")
    recent_sso = _age_sessions(app, ended_days=1)
    live = rp.tokens(scope="openid")
    rotated = rp.refresh(old["refresh_token"])
    assert rotated.status_code == 200

    result = runner.invoke(args=["cleanup", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["audit_events"] == 2
    assert counts["login_throttle"] == 1
    assert counts["sso_sessions"] == 2

    with app.app_context():
        actions = set(db.session.execute(sa.select(AuditEvent.action)).scalars())
        assert {f"old-{keep_days - 1}", "old-0"} <= actions
        assert not {f"old-{keep_days + 35}", f"old-{keep_days + 1}"} & actions
        keys = set(db.session.execute(sa.select(LoginThrottle.key)).scalars())
        assert keys == {"ip:192.0.2.2", "ip:192.0.2.3"}
        sessions = set(db.session.execute(sa.select(SsoSession.id)).scalars())
        assert old_sso not in sessions and expired_sso not in sessions
        assert recent_sso in sessions and len(sessions) == 2
        participants = set(db.session.execute(sa.select(SessionClient.sso_session_id)).scalars())
        assert participants <= sessions and participants
    # Nothing that still matters is lost: the offline grant outlives its session's row.
    assert rp.refresh(rotated.get_json()["refresh_token"]).status_code == 200
    assert rp.userinfo(live["access_token"]).status_code == 200

    again = runner.invoke(args=["cleanup", "--json"])
    assert json.loads(again.output)["sso_sessions"] == 0
