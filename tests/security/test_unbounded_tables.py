"""Anonymous requests cannot grow tables without bound (issue 8, finding 5).

The attack: 150 posts to an already-throttled address, all with one CSRF token (tokens never
expired), wrote 150 audit rows in 4 s without any argon2 work. Now a refused attempt is
counted in its throttle row and audited once per delay, and CSRF tokens last
CSRF_TIME_LIMIT_SECONDS.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import timedelta
from pathlib import Path

import argon2
import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from idp.audit import AuditEvent
from idp.extensions import db, utcnow
from idp.sessions.models import LoginThrottle

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "oidc"))

PRIMARY = "nguyen.van.an@haugiang.gov.vn"
PASSWORD = "Mật-khẩu-đủ-dài-2026"
TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DAY = timedelta(days=1)


def _count(app, model) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _token(client, path: str = "/login") -> str:
    return TOKEN_RE.search(client.get(path).get_data(as_text=True)).group(1)


def _post_login(client, token: str, email: str, password: str = "wrong-password"):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def _fail_until_blocked_long(app, client, addresses: list[str], failures: int) -> None:
    for i in range(failures):
        with app.app_context():
            db.session.execute(sa.update(LoginThrottle).values(blocked_until=utcnow()))
            db.session.commit()
        assert _post_login(client, _token(client), addresses[i % len(addresses)]).status_code == 401


@pytest.fixture
def argon2_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real_verify = argon2.PasswordHasher.verify

    def counting_verify(self, hash, password):
        calls.append(1)
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    return calls


@pytest.mark.parametrize("held_back", ["account", "address"])
def test_150_posts_while_throttled_write_a_bounded_number_of_rows(
    app, client, make_user, argon2_calls, held_back
):
    make_user()
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    if held_back == "account":
        _fail_until_blocked_long(app, client, [PRIMARY], free + 8)
        addresses = [PRIMARY]
    else:
        spray = [f"user{i}@haugiang.gov.vn" for i in range(60)]
        _fail_until_blocked_long(app, client, spray, free * 10 + 8)
        addresses = [f"other{i}@haugiang.gov.vn" for i in range(150)]
    audit_before, throttle_before = _count(app, AuditEvent), _count(app, LoginThrottle)
    argon2_calls.clear()

    token = _token(client)
    started = time.monotonic()
    for i in range(150):
        assert _post_login(client, token, addresses[i % len(addresses)]).status_code == 429
    elapsed = time.monotonic() - started

    assert argon2_calls == []
    # The first refusal of a delay is audited; the others are counted in the throttle row.
    assert _count(app, AuditEvent) - audit_before <= 1
    assert _count(app, LoginThrottle) == throttle_before
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
