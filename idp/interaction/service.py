"""Sign-in: check a password, throttle guessing, record the attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from idp import audit
from idp.directory.models import User
from idp.directory.passwords import hash_password, needs_rehash, verify_password
from idp.directory.store import find_user_by_address
from idp.extensions import db, utcnow
from idp.sessions.models import LoginThrottle

AMR_PASSWORD = "pwd"
ACR_PASSWORD = "urn:hg:loa:1"


@dataclass
class SignInResult:
    user: User | None
    # Seconds the caller must wait before trying again (throttling), 0 when not throttled.
    retry_after: int = 0


def _throttle_keys(identifier: str, ip: str | None) -> list[str]:
    keys = [f"acct:{identifier.strip().lower()[:320]}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def throttle_wait(keys: list[str], now: datetime) -> int:
    rows = db.session.query(LoginThrottle).filter(LoginThrottle.key.in_(keys)).all()
    waits = [int((r.blocked_until - now).total_seconds()) + 1 for r in rows if r.blocked_until and r.blocked_until > now]
    return max(waits, default=0)


def _note_failure(keys: list[str], now: datetime) -> None:
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_THROTTLE_WINDOW_SECONDS"])
    free = cfg["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    cap = cfg["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]
    for key in keys:
        row = db.session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_start=now)
            db.session.add(row)
        if row.window_start + window <= now:
            row.failures, row.window_start, row.blocked_until = 0, now, None
        row.failures += 1
        over = row.failures - free
        # The address limit allows a whole office behind one NAT: ten times the account's.
        if key.startswith("ip:"):
            over = row.failures - free * 10
        if over > 0:
            delay = min(cap, 2 ** min(over - 1, 16))
            row.blocked_until = now + timedelta(seconds=delay)


def _clear_account_throttle(identifier: str) -> None:
    row = db.session.get(LoginThrottle, _throttle_keys(identifier, None)[0])
    if row is not None:
        db.session.delete(row)


def sign_in(identifier: str, password: str, *, ip: str | None, user_agent: str | None) -> SignInResult:
    """Check an address and password. Always costs one argon2 verification.

    A wrong password and an unknown or disabled account give the same answer.
    """
    now = utcnow()
    keys = _throttle_keys(identifier, ip)
    wait = throttle_wait(keys, now)
    if wait:
        audit.record(
            "login", actor="anonymous", subject=identifier[:320], outcome="throttled",
            ip=ip, user_agent=user_agent,
        )
        db.session.commit()
        return SignInResult(None, retry_after=wait)

    user = find_user_by_address(identifier)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        _note_failure(keys, now)
        reason = "unknown_account" if user is None else ("disabled" if ok else "bad_password")
        audit.record(
            "login", actor="anonymous", subject=user.sub if user else identifier[:320],
            outcome="failure", ip=ip, user_agent=user_agent, detail={"reason": reason},
        )
        db.session.commit()
        return SignInResult(None)

    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    _clear_account_throttle(identifier)
    audit.record("login", actor=user.sub, subject=user.sub, ip=ip, user_agent=user_agent,
                 detail={"amr": [AMR_PASSWORD]})
    return SignInResult(user)
