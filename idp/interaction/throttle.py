"""Counting failed sign-ins, per account, per client address and per trusted browser.

Each key counts consecutive failures. Past its free attempts, every further failure holds
the key back for 1, 2, 4 ... seconds, up to LOGIN_THROTTLE_MAX_DELAY_SECONDS; an attempt
made meanwhile is refused without checking any password and only counted (`refused`). A
key's failures are forgotten LOGIN_THROTTLE_WINDOW_SECONDS after its last one, or when the
person signs in. There is no permanent lock-out: no delay is longer than the cap.

With the defaults (5 free, a 15-minute cap) an attacker gets about a hundred guesses a day
at one account, from any number of addresses: the figure of NIST SP 800-63B 5.2.2, held as
a rate because a hard limit would let anyone lock a named person out.

Keys:
- `acct:<sub>`, the account, whatever address of it was typed; `addr:<address>` for an
  address that is no account, counted the same way so the answers do not tell them apart;
- `ip:<address>`, the client address, an IPv6 /64 as one (one subscriber's allocation, as
  the rate limits of idp.limits count it); it allows ADDRESS_ALLOWANCE_FACTOR times more
  failures, for an office behind one NAT;
- `dev:<sub>:<entry id>`, one account's entry in the device cookie of a browser that signed
  in to it before (idp.interaction.device): it is held back only by its own failures, never
  by the account's or the address's, with the same free attempts, delays and window as an
  account; only that account's own successful sign-in on that browser clears it (or
  `idp users unlock`, which clears the account's own counters: `acct:<sub>` and its
  `dev:<sub>:` entries, never an address's);
- `otp:<sub>`, the second-factor codes of an account (idp.interaction.factor_step): the
  same free attempts, delays and window as an account.

A failure that holds a key back is a lock (`locks` in what `reserve` counted: an audit
event `login.lock` each, written by the sign-in service); an unlock by an operator is the
audit event `login.unlock`.

The rows live in the database, shared by every worker and host.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from idp.extensions import db, insert_for
from idp.limits import client_network
from idp.sessions.models import LoginThrottle

# The address limit allows a whole office behind one NAT: this many times the account's.
ADDRESS_ALLOWANCE_FACTOR = 10
KEY_KINDS = {
    "acct": "account",
    "addr": "account",
    "ip": "address",
    "dev": "device",
    "otp": "second_factor",
    "reset-addr": "reset_address",
    "reset-acct": "reset_address",
    "reset-ip": "reset_client",
}


def account_key(sub: str | None, address: str) -> str:
    """The account's key; an address that is no account is counted under itself."""
    return f"acct:{sub}" if sub is not None else f"addr:{address.strip().lower()}"


def address_key(ip: str) -> str:
    """The client address's key: IPv4 as is (also when mapped into IPv6), IPv6 by /64."""
    return f"ip:{client_network(ip)}"


def device_key(sub: str, entry_id: str) -> str:
    """One account's entry on a trusted browser; the sub in it lets an unlock find it."""
    return f"dev:{sub}:{entry_id}"


def second_factor_key(sub: str) -> str:
    return f"otp:{sub}"


def reset_address_key(address: str) -> str:
    """ "Quên mật khẩu?" requests for one typed address, account or not."""
    return f"reset-addr:{address.strip().lower()[:320]}"


def reset_account_key(sub: str) -> str:
    """ "Quên mật khẩu?" requests for one account, whichever of its addresses was typed."""
    return f"reset-acct:{sub}"


def reset_client_key(ip: str) -> str:
    """ "Quên mật khẩu?" requests from one client address (an IPv6 /64 as one)."""
    return "reset-" + address_key(ip)


def kind_of(key: str) -> str:
    return KEY_KINDS[key.split(":", 1)[0]]


def free_attempts(key: str) -> int:
    free = current_app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    return free * ADDRESS_ALLOWANCE_FACTOR if key.startswith("ip:") else free


def delay_after(failures: int, free: int, cap: int) -> int:
    """Seconds a key is held back after its n-th consecutive failure: 0, then 1, 2, 4 ..."""
    over = failures - free
    return 0 if over <= 0 else min(cap, 2 ** min(over - 1, 30))


def refuse(keys: list[str], now: datetime) -> list[str]:
    """Count an attempt refused while held back; returns the kinds of the keys for which it
    is the first refusal of the current delay (the only one worth an audit event)."""
    rows = db.session.execute(
        sa.update(LoginThrottle)
        .where(LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now)
        .values(refused=LoginThrottle.refused + 1)
        .returning(LoginThrottle.key, LoginThrottle.refused)
        .execution_options(synchronize_session=False)
    )
    return sorted({kind_of(key) for key, refused in rows if refused == 1})


def _locked_row(key: str, now: datetime) -> LoginThrottle:
    """The counter row for a key, created if missing and locked for this transaction.

    INSERT .. ON CONFLICT DO NOTHING then SELECT .. FOR UPDATE: two failures arriving at once
    for the same key neither collide on the primary key nor lose an increment. A success
    may delete the row (give_back) while this attempt waits for its lock: on PostgreSQL the
    SELECT then finds nothing, and the row is made again.
    """
    for _try in range(3):
        db.session.execute(
            insert_for(db.session.get_bind().dialect.name, LoginThrottle)
            .values(key=key, failures=0, window_start=now, last_failure_at=now, refused=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = db.session.execute(
            sa.select(LoginThrottle)
            .where(LoginThrottle.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is not None:
            return row
    raise RuntimeError(f"the sign-in counter {key!r} was removed three times in a row")


def reserve(keys: list[str], now: datetime) -> tuple[int, dict[str, object]]:
    """Count an attempt as a failure of every key before its password is checked.

    Returns the seconds to wait when a key is held back (then nothing is counted), else 0 and
    what the audit event of a failure records. The rows are locked while they are read and
    counted, and the caller commits before the (slow) verification: attempts made at once
    are counted one after the other, so no more of them are checked than one after another
    would be (counting after the verification let 12 parallel guesses check 7, not 6).
    A success then gives the attempt back (`give_back`).
    """
    # A read first: an attempt refused while held back writes no row (the common case under
    # attack); then the rows, locked, are read again, for an attempt made meanwhile.
    until = db.session.execute(
        sa.select(sa.func.max(LoginThrottle.blocked_until)).where(
            LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now
        )
    ).scalar_one()
    if until is None:
        # Always in the same order, so two requests locking the same rows cannot deadlock.
        rows = [_locked_row(key, now) for key in sorted(keys)]
        held = [r.blocked_until for r in rows if r.blocked_until and r.blocked_until > now]
        if not held:
            return 0, _count_failure(rows, now)
        until = max(held)
    return math.ceil((until - now).total_seconds()), {}


def _count_failure(rows: list[LoginThrottle], now: datetime) -> dict[str, object]:
    """Count one failure against each row and hold back those past their free attempts.

    Returns what the audit event of the failure records: each key's consecutive failures,
    the delay now imposed, and how many attempts were refused since the previous failure;
    and under `locks`, the keys this failure holds back, each with its delay (not for the
    failure's event: each lock is an event of its own).
    """
    cfg = current_app.config
    forget = timedelta(seconds=cfg["LOGIN_THROTTLE_WINDOW_SECONDS"])
    cap = cfg["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    failures: dict[str, int] = {}
    locks: dict[str, int] = {}
    delay = refused = 0
    for row in rows:
        if row.last_failure_at + forget <= now:
            row.failures, row.window_start, row.refused = 0, now, 0
        row.failures += 1
        row.last_failure_at = now
        refused += row.refused
        row.refused = 0
        held = delay_after(row.failures, free_attempts(row.key), cap)
        row.blocked_until = now + timedelta(seconds=held) if held else None
        failures[kind_of(row.key)] = row.failures
        if held:
            locks[row.key] = held
        delay = max(delay, held)
    counted: dict[str, object] = {"failures": failures, "locks": locks}
    if delay:
        counted["delay_seconds"] = delay
    if refused:
        counted["refused_before"] = refused
    return counted


def give_back(keys: list[str], now: datetime) -> None:
    """The attempt counted by `reserve` succeeded: one failure fewer for these keys, and the
    delay of the count that remains (no row when none remains)."""
    cap = current_app.config["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    for key in sorted(keys):
        row = _locked_row(key, now)
        row.failures = max(0, row.failures - 1)
        if row.failures == 0:  # nothing to remember: a success leaves no row behind
            db.session.delete(row)
            continue
        held = delay_after(row.failures, free_attempts(key), cap)
        row.blocked_until = row.last_failure_at + timedelta(seconds=held) if held else None


def clear(key: str) -> None:
    """The person signed in: this key's failures are forgotten."""
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == key))


def account_counters(sub: str) -> sa.ColumnElement[bool]:
    """The account's own counters: `acct:<sub>`, its second-factor codes' `otp:<sub>` and
    its entries on trusted browsers."""
    return sa.or_(
        LoginThrottle.key == account_key(sub, ""),
        LoginThrottle.key == second_factor_key(sub),
        LoginThrottle.key.startswith(f"dev:{sub}:", autoescape=True),
    )


def unlock(sub: str, now: datetime) -> dict[str, int]:
    """Forget the account's own failures (not its addresses'); what was cleared: how many
    counters, how many of them were holding it back, and the most failures of one."""
    rows = db.session.execute(
        sa.select(LoginThrottle).where(account_counters(sub)).with_for_update()
    ).scalars()
    cleared = {"counters": 0, "held_back": 0, "failures": 0}
    for row in rows:
        cleared["counters"] += 1
        cleared["held_back"] += bool(row.blocked_until and row.blocked_until > now)
        cleared["failures"] = max(cleared["failures"], row.failures)
    db.session.execute(
        sa.delete(LoginThrottle)
        .where(account_counters(sub))
        .execution_options(synchronize_session=False)
    )
    return cleared


def count_request(key: str, limit: int, now: datetime) -> bool:
    """Count one request against `key` in a fixed window of PASSWORD_RESET_WINDOW_SECONDS;
    False when the key had already reached `limit` in the window (the request is then only
    counted as refused). The row is locked while counted, so parallel requests cannot all
    slip under the limit. The caller commits."""
    window = timedelta(seconds=current_app.config["PASSWORD_RESET_WINDOW_SECONDS"])
    row = _locked_row(key, now)
    if row.window_start + window <= now:
        row.failures, row.window_start, row.refused = 0, now, 0
    row.last_failure_at = now
    if row.failures >= limit:
        row.refused += 1
        return False
    row.failures += 1
    return True


def remove_forgotten(now: datetime) -> int:
    """Delete counters whose failures are forgotten already (for `idp cleanup`)."""
    forget = timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    result = db.session.execute(
        sa.delete(LoginThrottle)
        .where(
            LoginThrottle.last_failure_at <= now - forget,
            sa.or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
