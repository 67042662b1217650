"""Sign-in: check a password, throttle guessing, record the attempt.

Throttling keeps two counters of failures in a sliding window, one per account identifier
and one per client address. Past a number of free attempts each further failure blocks the
key for a delay that doubles, up to a cap; the window then resets. There is no permanent
lock-out, so an attacker cannot keep a victim out for longer than the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from idp import audit
from idp.directory.models import User
from idp.directory.passwords import hash_password, needs_rehash, verify_password
from idp.directory.store import find_user_by_address
from idp.extensions import db, utcnow
from idp.interaction.forms import has_control_characters
from idp.sessions.models import LoginThrottle

AMR_PASSWORD = "pwd"
ACR_PASSWORD = "urn:hg:loa:1"
# The address limit allows a whole office behind one NAT: this many times the account's.
ADDRESS_ALLOWANCE_FACTOR = 10
IDENTIFIER_MAX_LENGTH = 320


@dataclass
class SignInResult:
    user: User | None
    # Seconds the caller must wait before trying again (throttling), 0 when not throttled.
    retry_after: int = 0


def clean_identifier(identifier: str) -> str:
    """The identifier as stored in throttle keys and the audit log: trimmed, bounded, printable."""
    text = identifier.strip()[:IDENTIFIER_MAX_LENGTH]
    if has_control_characters(text):
        # PostgreSQL text cannot hold NUL; no address contains control characters anyway.
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text


def throttle_keys(identifier: str, ip: str | None) -> list[str]:
    keys = [f"acct:{clean_identifier(identifier).lower()}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def throttle_wait(keys: list[str], now: datetime) -> int:
    """Seconds until every key may try again (0: not blocked)."""
    rows = db.session.execute(sa.select(LoginThrottle).where(LoginThrottle.key.in_(keys))).scalars()
    waits = [
        int((r.blocked_until - now).total_seconds()) + 1
        for r in rows
        if r.blocked_until is not None and r.blocked_until > now
    ]
    return max(waits, default=0)


def _locked_throttle_row(key: str, now: datetime) -> LoginThrottle:
    """The counter row for a key, created if missing and locked for this transaction.

    INSERT .. ON CONFLICT DO NOTHING then SELECT .. FOR UPDATE: two failures arriving at once
    for the same key neither collide on the primary key nor lose an increment.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, window_start=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return db.session.execute(
        sa.select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def note_failure(keys: list[str], now: datetime) -> None:
    """Count one failure against each key; block a key past its free attempts."""
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_THROTTLE_WINDOW_SECONDS"])
    free = cfg["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    cap = cfg["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    for key in keys:
        row = _locked_throttle_row(key, now)
        if row.window_start + window <= now:
            row.failures, row.window_start, row.blocked_until = 0, now, None
        row.failures += 1
        allowed = free * ADDRESS_ALLOWANCE_FACTOR if key.startswith("ip:") else free
        over = row.failures - allowed
        if over > 0:
            delay = min(cap, 2 ** min(over - 1, 16))
            row.blocked_until = now + timedelta(seconds=delay)


def _clear_account_throttle(identifier: str) -> None:
    db.session.execute(
        sa.delete(LoginThrottle).where(LoginThrottle.key == throttle_keys(identifier, None)[0])
    )


def sign_in(
    identifier: str,
    password: str,
    *,
    ip: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> SignInResult:
    """Check an address and password. Always costs one argon2 verification when not throttled.

    A wrong password and an unknown or disabled account give the same answer. The caller
    commits on success (it also starts the session); failures are committed here.
    """
    now = now or utcnow()
    cleaned = clean_identifier(identifier)
    keys = throttle_keys(identifier, ip)
    wait = throttle_wait(keys, now)
    if wait:
        audit.record(
            "login",
            actor="anonymous",
            subject=cleaned,
            outcome="throttled",
            ip=ip,
            user_agent=user_agent,
        )
        db.session.commit()
        return SignInResult(None, retry_after=wait)

    user = find_user_by_address(cleaned) if cleaned == identifier.strip() else None
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        reason = "unknown_account" if user is None else ("disabled" if ok else "bad_password")
        subject = user.sub if user else cleaned
        note_failure(keys, now)
        audit.record(
            "login",
            actor="anonymous",
            subject=subject,
            outcome="failure",
            ip=ip,
            user_agent=user_agent,
            detail={"reason": reason},
        )
        db.session.commit()
        return SignInResult(None)

    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    _clear_account_throttle(identifier)
    audit.record(
        "login",
        actor=user.sub,
        subject=user.sub,
        ip=ip,
        user_agent=user_agent,
        detail={"amr": [AMR_PASSWORD]},
    )
    return SignInResult(user)
