"""Throttling of password guessing: growing delays per account and per address, no lock-out.

The attacks (an alias giving fresh guesses, a victim held back, rows per refused attempt)
are in tests/security/test_signin_throttle.py and test_unbounded_tables.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers.people import EMAIL, PASSWORD
from helpers.throttle import sign_in

from idp.extensions import db, utcnow
from idp.sessions.models import LoginThrottle


def _row(app, key):
    with app.app_context():
        return db.session.get(LoginThrottle, key)


def test_after_free_attempts_even_the_right_password_waits_then_works_again(
    app, client, auth, make_user
):
    sub = make_user()
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    for _ in range(free):
        assert auth.login(password="wrong-password").status_code == 401
    # One more failure starts the delay.
    assert auth.login(password="wrong-password").status_code == 401
    assert _row(app, f"acct:{sub}").blocked_until is not None

    refused = auth.login()
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau" in html
    assert 'role="alert"' in html
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/account/").status_code == 302

    # The delay window passes (moved back in the database instead of sleeping).
    with app.app_context():
        row = db.session.get(LoginThrottle, f"acct:{sub}")
        row.blocked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert auth.login().status_code == 302
    assert client.get("/account/").status_code == 200
    # Success clears the account's counter.
    assert _row(app, f"acct:{sub}") is None


def test_throttled_message_is_english_on_english_pages(app, client, auth, make_user):
    sub = make_user()
    client.get("/lang/en")
    with app.app_context():
        db.session.add(
            LoginThrottle(
                key=f"acct:{sub}",
                failures=9,
                window_start=utcnow(),
                blocked_until=utcnow() + timedelta(seconds=60),
            )
        )
        db.session.commit()
    html = auth.login().get_data(as_text=True)
    assert "Too many failed sign-in attempts. Please try again in" in html


def test_throttle_is_per_account_whatever_the_case_of_the_address(app, auth, make_user):
    make_user()
    for _ in range(app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"] + 1):
        auth.login(email=EMAIL.upper(), password="wrong-password")
    assert auth.login(email=EMAIL).status_code == 429


def test_delays_grow_and_are_capped(app, make_user):
    sub = make_user()
    cfg = app.config
    free, cap = cfg["LOGIN_THROTTLE_FREE_ATTEMPTS"], cfg["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    t = utcnow()
    delays = []
    with app.test_request_context():
        for attempt in range(free + 12):
            result = sign_in(EMAIL, "wrong-password", ip="10.0.0.1", user_agent="t", now=t)
            assert result.user is None and result.retry_after == 0
            row = db.session.get(LoginThrottle, f"acct:{sub}")
            if attempt < free:
                assert row.blocked_until is None
                t += timedelta(seconds=1)
                continue
            delay = (row.blocked_until - t).total_seconds()
            delays.append(delay)
            # While blocked, even the right password is refused without a verification.
            blocked = sign_in(EMAIL, PASSWORD, ip="10.0.0.1", user_agent="t", now=t)
            assert blocked.user is None and blocked.retry_after == int(delay)
            t = row.blocked_until + timedelta(seconds=1)
    assert delays[:5] == [1, 2, 4, 8, 16]
    assert max(delays) == cap
    assert delays == sorted(delays)


def test_counters_are_forgotten_a_window_after_the_last_failure(app, make_user):
    sub = make_user()
    cfg = app.config
    t = utcnow()
    with app.test_request_context():
        for _ in range(cfg["LOGIN_THROTTLE_FREE_ATTEMPTS"] + 3):
            sign_in(EMAIL, "wrong-password", ip="10.0.0.1", user_agent="t", now=t)
        later = t + timedelta(seconds=cfg["LOGIN_THROTTLE_WINDOW_SECONDS"] + 1)
        # A new failure a window after the last one starts a fresh count: not blocked.
        sign_in(EMAIL, "wrong-password", ip="10.0.0.1", user_agent="t", now=later)
        row = db.session.get(LoginThrottle, f"acct:{sub}")
        assert row.failures == 1 and row.blocked_until is None
        ok = sign_in(EMAIL, PASSWORD, ip="10.0.0.1", user_agent="t", now=later)
        assert ok.user is not None


def test_one_address_guessing_many_accounts_is_slowed_down(app, make_user):
    make_user()
    cfg = app.config
    allowance = cfg["LOGIN_THROTTLE_FREE_ATTEMPTS"] * 10
    t = utcnow()
    with app.test_request_context():
        for i in range(allowance):
            sign_in(f"guess{i}@haugiang.gov.vn", "x", ip="203.0.113.9", user_agent="t", now=t)
        assert db.session.get(LoginThrottle, "ip:203.0.113.9").blocked_until is None
        sign_in("guess-last@haugiang.gov.vn", "x", ip="203.0.113.9", user_agent="t", now=t)
        assert db.session.get(LoginThrottle, "ip:203.0.113.9").blocked_until is not None
        # Every account is refused from that address for now ...
        refused = sign_in(EMAIL, PASSWORD, ip="203.0.113.9", user_agent="t", now=t)
        assert refused.user is None and refused.retry_after > 0
        # ... but the owner signs in from their own office.
        assert sign_in(EMAIL, PASSWORD, ip="198.51.100.7", user_agent="t", now=t).user is not None


def test_identifiers_with_control_characters_are_counted_not_crashed(app):
    with app.test_request_context():
        result = sign_in("an\x00@haugiang.gov.vn", "x", ip="10.0.0.2", user_agent="t")
        assert result.user is None
        keys = db.session.execute(sa.select(LoginThrottle.key)).scalars().all()
        assert "addr:an?@haugiang.gov.vn" in keys


@pytest.mark.parametrize("ip", [None, "10.0.0.3"])
def test_sign_in_without_or_with_an_address(app, make_user, ip):
    make_user()
    with app.test_request_context():
        assert sign_in(EMAIL, PASSWORD, ip=ip, user_agent=None).user is not None


def test_concurrent_failures_for_a_new_key_neither_collide_nor_get_lost(app):
    """Two workers record the first failure of the same key at once (morning storm)."""
    import threading

    from idp.interaction.throttle import reserve

    t = utcnow()
    first_written, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with app.app_context():
                reserve(["acct:race@haugiang.gov.vn"], t)
                first_written.set()
                release_first.wait(30)
                db.session.commit()
        except BaseException as exc:
            errors.append(exc)
            first_written.set()

    def second():
        try:
            with app.app_context():
                reserve(["acct:race@haugiang.gov.vn"], t)  # waits for the first's lock
                db.session.commit()
        except BaseException as exc:
            errors.append(exc)

    one = threading.Thread(target=first)
    one.start()
    assert first_written.wait(30)
    two = threading.Thread(target=second)
    two.start()
    if app.config["DATABASE_URL"].startswith("postgresql"):
        _wait_until_blocked_on_a_lock(app)
    release_first.set()
    one.join(30)
    two.join(30)
    assert errors == []
    with app.app_context():
        assert db.session.get(LoginThrottle, "acct:race@haugiang.gov.vn").failures == 2


def _wait_until_blocked_on_a_lock(app) -> None:
    """Poll pg_stat_activity until a session of this database waits on a row or tuple lock."""
    import time

    with app.app_context():
        for _ in range(300):
            waiting = db.session.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            db.session.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second worker never waited for the first")
