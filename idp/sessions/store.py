"""Storage of SSO sessions: start, find by cookie handle, refresh, end."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from idp.directory.models import User
from idp.extensions import db, utcnow
from idp.sessions.models import SsoSession

# last_seen_at is written at most this often per session, so busy SSO hops stay reads.
TOUCH_INTERVAL_SECONDS = 60


def hash_handle(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def session_lifetime(remember: bool) -> timedelta:
    cfg = current_app.config
    seconds = cfg["SESSION_REMEMBER_SECONDS"] if remember else cfg["SESSION_ABSOLUTE_SECONDS"]
    return timedelta(seconds=seconds)


def start_session(
    user: User,
    *,
    amr: list[str],
    acr: str,
    remember: bool = False,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> tuple[str, SsoSession]:
    """Create a session for a user who just authenticated; returns (cookie handle, session)."""
    now = now or utcnow()
    handle = secrets.token_urlsafe(32)
    sso = SsoSession(
        sid=secrets.token_urlsafe(16),
        handle_hash=hash_handle(handle),
        user_id=user.id,
        auth_time=now,
        amr=list(amr),
        acr=acr,
        remember=remember,
        created_at=now,
        last_seen_at=now,
        expires_at=now + session_lifetime(remember),
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
    )
    db.session.add(sso)
    return handle, sso


def is_live(sso: SsoSession, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if sso.ended_at is not None or sso.expires_at <= now:
        return False
    if not sso.remember:
        idle = timedelta(seconds=current_app.config["SESSION_IDLE_SECONDS"])
        if sso.last_seen_at + idle <= now:
            return False
    return sso.user is not None and sso.user.is_active


def find_session(handle: str | None, now: datetime | None = None) -> SsoSession | None:
    """The live session behind a cookie handle, or None."""
    if not handle or len(handle) > 128:
        return None
    sso = db.session.execute(
        sa.select(SsoSession).where(SsoSession.handle_hash == hash_handle(handle))
    ).scalar_one_or_none()
    if sso is None or not is_live(sso, now):
        return None
    return sso


def touch(sso: SsoSession, now: datetime | None = None) -> bool:
    """Record activity; returns True when a write was made (the caller commits)."""
    now = now or utcnow()
    if (now - sso.last_seen_at).total_seconds() < TOUCH_INTERVAL_SECONDS:
        return False
    sso.last_seen_at = now
    return True


def reauthenticate(
    sso: SsoSession, *, amr: list[str], acr: str, now: datetime | None = None
) -> None:
    """The user proved themselves again in the same session: a new auth_time (and maybe acr)."""
    now = now or utcnow()
    sso.auth_time = now
    sso.last_seen_at = now
    sso.amr = list(dict.fromkeys([*amr]))
    sso.acr = acr


def end_session(sso: SsoSession, reason: str, now: datetime | None = None) -> None:
    if sso.ended_at is None:
        sso.ended_at = now or utcnow()
        sso.end_reason = reason


def live_sessions_of(user_id: int, now: datetime | None = None) -> list[SsoSession]:
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(SsoSession)
        .where(
            SsoSession.user_id == user_id,
            SsoSession.ended_at.is_(None),
            SsoSession.expires_at > now,
        )
        .order_by(SsoSession.last_seen_at.desc())
    ).scalars()
    return [s for s in rows if is_live(s, now)]
