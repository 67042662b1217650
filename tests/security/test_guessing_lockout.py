"""Guessing one account's password from many addresses, locking a victim out, and telling
accounts apart by the locked answer (issue 10, part 7; on top of test_signin_throttle.py).

- Distributed guessing (one guess per address) locks the account's guessing: every browser
  that never signed in to it waits; the owner's trusted browser does not.
- No answer tells an unknown address, a wrong password, a disabled account and a locked
  account apart: the same page, status, Retry-After and number of password verifications.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.people import EMAIL, PASSWORD
from helpers.throttle import VICTIM_IP, Browser, let_blocks_pass, normalised_answer

from idp.audit import AuditEvent
from idp.extensions import db, utcnow


@pytest.fixture
def victim(make_user):
    return make_user(EMAIL)


def test_distributed_guessing_locks_the_guessing_not_the_owners_trusted_browser(
    app, victim, monkeypatch
):
    own = Browser(app, VICTIM_IP)
    assert own.login().status_code == 302
    own.logout()
    # Every guess at the same instant, however slow the machine: no delay ends meanwhile.
    now = utcnow()
    monkeypatch.setattr("idp.interaction.service.utcnow", lambda: now)
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    answers = []
    for i in range(40):  # one botnet address per guess, as fast as the answers allow
        answers.append(Browser(app, f"198.51.100.{i}").login(EMAIL, f"guess-{i}").status_code)
    # The free attempts and the one that starts the first delay are checked; the rest wait.
    assert answers == [401] * (free + 1) + [429] * (40 - free - 1)
    # A browser the owner never used waits too (it shares the account's counter) ...
    fresh = Browser(app, "192.0.2.77").login()
    assert fresh.status_code == 429
    assert int(fresh.headers["Retry-After"]) <= app.config["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    # ... the owner's own browser does not.
    assert own.login().status_code == 302 and own.signed_in()
    with app.app_context():
        locks = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "login.lock")
        ).all()
        assert [(e.subject, e.detail["counter"]) for e in locks] == [(victim, "account")]


def test_the_locked_answer_tells_no_account_apart(app, make_user, argon2_verifications):
    """An unknown address, a known account, and a disabled one, each guessed until held
    back, then tried with the known account's right password: identical answers."""
    make_user(EMAIL)
    make_user("tran.thi.binh@haugiang.gov.vn", status="disabled")
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    answers = {}
    waits: list[str | None] = []
    for n, address in enumerate(
        (EMAIL, "tran.thi.binh@haugiang.gov.vn", "khong.co.ai@haugiang.gov.vn")
    ):
        browser = Browser(app, f"192.0.2.{100 + n}")
        seen = []
        for i in range(free + 5):
            if i < free + 4:
                let_blocks_pass(app)
            argon2_verifications.clear()
            # The last attempt comes while held back (8 s), with the right password.
            password = PASSWORD if i == free + 4 else "wrong-password"
            response = browser.login(address, password)
            seen.append((normalised_answer(response), len(argon2_verifications)))
            waits.append(response.headers.get("Retry-After"))
        answers[address] = seen
    known, disabled, unknown = answers.values()
    # The same delay (8 s after free + 4 failures, less the time between the last two
    # requests), for each.
    last = waits[free + 4 :: free + 5]
    assert len(last) == 3 and set(last) <= {"6", "7", "8"}, waits
    assert known == disabled == unknown
    assert [answer[0][0] for answer in known] == [401] * (free + 4) + [429]
    # One verification per attempt checked, none for the one held back.
    assert [answer[1] for answer in known] == [1] * (free + 4) + [0]
