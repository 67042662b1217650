"""`idp users unlock`: the help desk ends an account's sign-in delays (idp.interaction.cli),
and every lock and unlock is an audit event."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers.cli import one_line_error
from helpers.people import EMAIL, PASSWORD
from helpers.throttle import ATTACKER_IP, VICTIM_IP, Browser, fail_repeatedly

from idp.audit import AuditEvent
from idp.extensions import db, utcnow
from idp.sessions.models import LoginThrottle

ALIAS = "an.nv@haugiang.gov.vn"


@pytest.fixture
def victim(make_user):
    return make_user(EMAIL, aliases=[ALIAS])


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def counters(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(sa.select(LoginThrottle.key, LoginThrottle.failures)).all())


def keep_held_back(app, seconds: int = 600) -> None:
    """Every counter held back now stays so for `seconds`: what follows does not depend on
    how fast the machine is."""
    with app.app_context():
        db.session.execute(
            sa.update(LoginThrottle)
            .where(LoginThrottle.blocked_until.is_not(None))
            .values(blocked_until=utcnow() + timedelta(seconds=seconds))
        )
        db.session.commit()


def lock_out(app, free_extra: int = 8) -> Browser:
    """Wrong passwords from the attacker's address until the account is held back for
    2 ** (free_extra - 1) seconds (long enough for a slow machine to look at it)."""
    attacker = Browser(app, ATTACKER_IP)
    fail_repeatedly(app, attacker, [EMAIL], app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"] + free_extra)
    return attacker


@pytest.mark.parametrize("identifier", ["alias", "sub", "upper"])
def test_unlock_lets_the_person_in_at_once_and_is_audited(
    app, runner, victim, identifier, monkeypatch
):
    lock_out(app)
    assert Browser(app, VICTIM_IP).login().status_code == 429
    monkeypatch.setenv("SUDO_USER", "helpdesk")
    typed = {"alias": ALIAS, "sub": victim, "upper": EMAIL.upper()}[identifier]
    result = runner.invoke(args=["users", "unlock", typed])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Unlocked {EMAIL}: it can sign in again at once.\n"
    assert Browser(app, VICTIM_IP).login().status_code == 302
    (event,) = events(app, "login.unlock")
    assert (event.actor, event.subject, event.outcome) == ("cli:helpdesk", victim, "success")
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    assert event.detail == {"counters": 1, "held_back": 1, "failures": free + 8}


def test_unlock_clears_the_accounts_trusted_browsers_but_not_addresses(app, runner, victim):
    own = Browser(app, VICTIM_IP)
    assert own.login().status_code == 302
    own.logout()
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    # The person mistypes on their own browser (its own counter) ...
    fail_repeatedly(app, own, [EMAIL], free + 8)
    assert own.login().status_code == 429
    # ... while someone sprays passwords at many accounts from the attacker's address.
    sprayer = Browser(app, ATTACKER_IP)
    for i in range(free * 10 + 1):
        sprayer.login(f"user{i}@haugiang.gov.vn", "Mùa-xuân-2026")
    keep_held_back(app)
    assert Browser(app, ATTACKER_IP).login().status_code == 429

    result = runner.invoke(args=["users", "unlock", victim, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "sub": victim,
        "email": EMAIL,
        "counters": 1,
        "held_back": 1,
        "failures": free + 8,
    }
    assert own.login().status_code == 302
    # The address's counter is not the account's: it still holds back guessing from there.
    assert Browser(app, ATTACKER_IP).login().status_code == 429
    assert f"ip:{ATTACKER_IP}" in counters(app)


def test_unlock_of_an_account_that_is_not_held_back(app, runner, victim):
    result = runner.invoke(args=["users", "unlock", EMAIL])
    assert (result.exit_code, result.stdout) == (0, f"{EMAIL} had no failed sign-ins to forget.\n")
    Browser(app, ATTACKER_IP).login(ALIAS, "wrong")
    result = runner.invoke(args=["users", "unlock", EMAIL])
    assert result.stdout == f"{EMAIL} was not held back; its failures are forgotten.\n"
    assert [e.detail for e in events(app, "login.unlock")] == [
        {"counters": 0, "held_back": 0, "failures": 0},
        {"counters": 1, "held_back": 0, "failures": 1},
    ]
    assert not any(key.startswith("acct:") for key in counters(app))


def test_unlock_of_an_unknown_account_is_a_one_line_error(app, runner, victim):
    lock_out(app)
    result = runner.invoke(args=["users", "unlock", "nobody@haugiang.gov.vn"])
    assert one_line_error(result) == "Error: no user 'nobody@haugiang.gov.vn'"
    assert events(app, "login.unlock") == []
    assert Browser(app, VICTIM_IP).login().status_code == 429


def test_unlock_finds_only_that_accounts_counters(app):
    """Subs are matched literally: LIKE's wildcards in one do not reach another's rows."""
    from idp.interaction import throttle

    now = utcnow()
    keys = ["acct:a%b", "dev:a%b:1", "otp:a%b"]
    keys += ["acct:axb", "dev:axb:2", "dev:a_b:3", "dev:a%b2:4", "otp:axb", "otp:a%b2"]
    with app.app_context():
        for key in keys:
            db.session.add(
                LoginThrottle(key=key, failures=3, window_start=now, last_failure_at=now, refused=0)
            )
        db.session.commit()
        cleared = throttle.unlock("a%b", now)
        db.session.commit()
    # The account's own counters, its second-factor codes' included.
    assert cleared == {"counters": 3, "held_back": 0, "failures": 3}
    assert sorted(counters(app)) == sorted(keys[3:])


def test_each_lock_is_an_audit_event(app, victim):
    """One `login.lock` per failure that holds a counter back, with its delay; a refused
    attempt (while held back) starts no new lock."""
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    attacker = lock_out(app, free_extra=6)
    assert attacker.login(EMAIL, "wrong").status_code == 429  # held back: no new lock
    locks = events(app, "login.lock")
    assert [(e.subject, e.outcome, e.detail["counter"]) for e in locks] == [
        (victim, "locked", "account")
    ] * 6
    assert [e.detail["delay_seconds"] for e in locks] == [1, 2, 4, 8, 16, 32]
    assert [e.detail["failures"] for e in locks] == [free + n for n in range(1, 7)]
    assert {e.ip for e in locks} == {ATTACKER_IP}
    # The failure's own event does not repeat the locks.
    failures = [e for e in events(app, "login") if e.outcome == "failure"]
    assert all("locks" not in e.detail for e in failures)


def test_an_address_lock_is_an_audit_event_about_the_address(app, victim):
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    sprayer = Browser(app, ATTACKER_IP)
    for i in range(free * 10 + 1):
        assert sprayer.login(f"user{i}@haugiang.gov.vn", "Mùa-xuân-2026").status_code == 401
    (lock,) = events(app, "login.lock")
    assert (lock.subject, lock.detail["counter"], lock.detail["delay_seconds"]) == (
        ATTACKER_IP,
        "address",
        1,
    )


def test_a_lock_on_a_trusted_browser_names_the_account(app, victim):
    own = Browser(app, VICTIM_IP)
    assert own.login().status_code == 302
    own.logout()
    fail_repeatedly(app, own, [ALIAS], app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"] + 1)
    (lock,) = events(app, "login.lock")
    assert (lock.subject, lock.detail["counter"]) == (victim, "device")
    # The trusted browser's counter carries the account, so an unlock can find it.
    assert any(key.startswith(f"dev:{victim}:") for key in counters(app))


def test_a_lock_ends_by_itself_within_the_cap(app, victim):
    """No lock outlasts LOGIN_THROTTLE_MAX_DELAY_SECONDS, however long the guessing."""
    from helpers.throttle import sign_in

    cap = app.config["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    t = utcnow()
    with app.test_request_context():
        for i in range(40):
            result = sign_in(EMAIL, "wrong", ip=f"10.1.0.{i}", user_agent=None, now=t)
            assert result.retry_after <= cap
            t += timedelta(seconds=cap + 1)
        assert sign_in(EMAIL, PASSWORD, ip=VICTIM_IP, user_agent=None, now=t).user is not None
    delays = [e.detail["delay_seconds"] for e in events(app, "login.lock")]
    assert max(delays) == cap and len(delays) == 40 - app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
