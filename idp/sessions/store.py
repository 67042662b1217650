"""Storage of SSO sessions: start, find by cookie handle, refresh, end."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from idp import assurance
from idp.directory.models import User
from idp.extensions import db, utcnow
from idp.sessions.models import SessionClient, SsoSession

# last_seen_at is written at most this often per session, so busy SSO hops stay reads.
TOUCH_INTERVAL_SECONDS = 60


def hash_handle(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def session_lifetime(remember: bool) -> timedelta:
    cfg = current_app.config
    seconds = cfg["SESSION_REMEMBER_SECONDS"] if remember else cfg["SESSION_ABSOLUTE_SECONDS"]
    return timedelta(seconds=seconds)


def _times(amr: list[str], now: datetime, times: dict[str, int] | None) -> dict[str, int]:
    stamp = int(now.timestamp())
    known = {k: v for k, v in (times or {}).items() if isinstance(v, int)}
    return {**known, **{m: known.get(m, stamp) for m in amr if m != assurance.AMR_MULTI_FACTOR}}


def start_session(
    user: User,
    *,
    amr: list[str],
    acr: str | None = None,
    remember: bool = False,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
    auth_times: dict[str, int] | None = None,
) -> tuple[str, SsoSession]:
    """Create a session for a user who just authenticated with the methods `amr` (each at
    `now` unless `auth_times` says when); returns (cookie handle, session). The session's
    acr is the level those methods reach (idp.assurance), or `acr` when given."""
    now = now or utcnow()
    handle = secrets.token_urlsafe(32)
    times = _times(amr, now, auth_times)
    sso = SsoSession(
        sid=secrets.token_urlsafe(16),
        handle_hash=hash_handle(handle),
        user_id=user.id,
        auth_time=now,
        amr=assurance.amr_for(times),
        acr=acr if acr is not None else assurance.acr_for(times),
        auth_times=times,
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
    sso: SsoSession,
    *,
    amr: list[str],
    acr: str | None = None,
    now: datetime | None = None,
    auth_times: dict[str, int] | None = None,
) -> str:
    """The user proved themselves again in the same session (signing in again, or a step-up
    with a second factor): the methods `amr` are recorded at `now` beside those performed
    earlier in the session, and the session's amr and acr are what they all reach.

    Returns a new cookie handle: the old one stops working, so a handle seen before the
    person signed in again (or stepped up) does not carry the new sign-in (OWASP ASVS 4.0
    3.2.1). The session, its `sid` and its relying parties stay.
    """
    now = now or utcnow()
    earlier = dict(sso.auth_times or {})
    if sso.auth_times is None:
        # Recorded before per-method times: what the session said it did, at its auth_time.
        then = int(sso.auth_time.timestamp())
        earlier = {m: then for m in (sso.amr or []) if m != assurance.AMR_MULTI_FACTOR}
    handle = secrets.token_urlsafe(32)
    sso.handle_hash = hash_handle(handle)
    sso.auth_time = now
    sso.last_seen_at = now
    stamp = int(now.timestamp())
    fresh = {m: stamp for m in amr if m != assurance.AMR_MULTI_FACTOR}
    times = {**earlier, **(auth_times or {}), **fresh}
    sso.auth_times = times
    sso.amr = assurance.amr_for(times)
    sso.acr = acr if acr is not None else assurance.acr_for(times)
    return handle


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


# ---------------------------------------------------------------- ending sessions (logout)

CHUNK = 500


@dataclass(frozen=True)
class EndedSession:
    id: int
    sid: str
    user_id: int
    sub: str


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def end_sessions(session_ids: list[int], reason: str, now: datetime) -> list[EndedSession]:
    """End the sessions that are still open; returns those this call ended.

    A conditional UPDATE, so two sign-outs of one session racing each other end it (and
    notify its relying parties) once.
    """
    ended: list[tuple[int, str, int]] = []
    for chunk in _chunks(sorted(set(session_ids))):
        rows = db.session.execute(
            sa.update(SsoSession)
            .where(SsoSession.id.in_(chunk), SsoSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
            .returning(SsoSession.id, SsoSession.sid, SsoSession.user_id)
            .execution_options(synchronize_session=False)
        )
        ended += [(row.id, row.sid, row.user_id) for row in rows]
    if not ended:
        return []
    ids = {session_id for session_id, _sid, _uid in ended}
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, SsoSession) and obj.id in ids:
            db.session.expire(obj, ["ended_at", "end_reason"])
    rows = db.session.execute(
        sa.select(User.id, User.sub).where(User.id.in_({uid for _i, _s, uid in ended}))
    )
    subs = {user_id: sub for user_id, sub in rows}
    return [EndedSession(i, sid, uid, subs[uid]) for i, sid, uid in ended]


def open_session_ids(user_ids: list[int], now: datetime, sid: str | None = None) -> list[int]:
    """Sessions of these users not ended and not past their lifetime (idle ones included:
    their relying parties may still hold sessions of their own)."""
    found: list[int] = []
    for chunk in _chunks(sorted(set(user_ids))):
        query = sa.select(SsoSession.id).where(
            SsoSession.user_id.in_(chunk),
            SsoSession.ended_at.is_(None),
            SsoSession.expires_at > now,
        )
        if sid is not None:
            query = query.where(SsoSession.sid == sid)
        found += db.session.execute(query).scalars()
    return found


def participants(session_ids: list[int]) -> dict[int, list[str]]:
    """The clients that received an ID token in each session, in order of first use."""
    result: dict[int, list[str]] = {}
    for chunk in _chunks(sorted(set(session_ids))):
        rows = db.session.execute(
            sa.select(SessionClient.sso_session_id, SessionClient.client_id)
            .where(SessionClient.sso_session_id.in_(chunk))
            .order_by(SessionClient.first_at, SessionClient.id)
        )
        for session_id, client_id in rows:
            result.setdefault(session_id, []).append(client_id)
    return result


def remove_old_sessions(now: datetime | None = None, limit: int = CHUNK * 10) -> int:
    """Delete up to `limit` sessions that ended or expired more than SESSION_RETENTION_DAYS
    ago; returns how many. The caller commits and calls again until it returns 0.

    The database removes what hangs on them with the row (ON DELETE CASCADE: the list of
    applications used in the session, its authorization codes; SET NULL: grants, of which
    only offline ones still live after their session).
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["SESSION_RETENTION_DAYS"])
    old = (
        sa.select(SsoSession.id)
        .where(sa.or_(SsoSession.ended_at < cutoff, SsoSession.expires_at < cutoff))
        .limit(limit)
    )
    result = db.session.execute(
        sa.delete(SsoSession)
        .where(SsoSession.id.in_(old.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def find_session_by_sid(sid: str) -> SsoSession | None:
    if not sid or len(sid) > 64:
        return None
    return db.session.execute(
        sa.select(SsoSession).where(SsoSession.sid == sid)
    ).scalar_one_or_none()
