"""The pending sign-in: a password checked (or a session stepping up), a second factor not
yet. Created by the sign-in page, finished once by the factor page.

Nothing here is an SSO session: the authorization endpoint sees no signed-in person until
the factor is given and the page starts (or steps up) the session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from idp.directory.models import User
from idp.extensions import db
from idp.factors.models import PendingSignIn

HANDLE_MAX_LENGTH = 128


def _hash(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def create(
    user: User,
    *,
    methods: dict[str, int],
    now: datetime,
    remember: bool = False,
    next_url: str = "",
    enrol: bool = False,
    sid: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Start a pending sign-in; returns the handle for the browser's cookie."""
    handle = secrets.token_urlsafe(32)
    db.session.add(
        PendingSignIn(
            handle_hash=_hash(handle),
            user_id=user.id,
            sid=sid,
            methods=dict(methods),
            remember=remember,
            next_url=next_url[:2048],
            enrol=enrol,
            failures=0,
            created_at=now,
            expires_at=now + timedelta(seconds=current_app.config["FACTOR_PENDING_SECONDS"]),
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
        )
    )
    db.session.flush()
    return handle


def find(handle: str | None, now: datetime) -> PendingSignIn | None:
    """The live pending sign-in behind a handle: unexpired, unfinished, not locked."""
    if not handle or len(handle) > HANDLE_MAX_LENGTH:
        return None
    pending = db.session.execute(
        sa.select(PendingSignIn).where(PendingSignIn.handle_hash == _hash(handle))
    ).scalar_one_or_none()
    if pending is None or not is_live(pending, now):
        return None
    return pending


def is_live(pending: PendingSignIn, now: datetime) -> bool:
    return (
        pending.finished_at is None
        and pending.expires_at > now
        and pending.failures < current_app.config["FACTOR_MAX_ATTEMPTS"]
    )


def count_failure(pending: PendingSignIn) -> int:
    """One more wrong code; returns the count (a locked pending sign-in is dead)."""
    failures = db.session.execute(
        sa.update(PendingSignIn)
        .where(PendingSignIn.id == pending.id)
        .values(failures=PendingSignIn.failures + 1)
        .returning(PendingSignIn.failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    db.session.expire(pending, ["failures"])
    return failures


def finish(pending: PendingSignIn, now: datetime) -> bool:
    """Mark it used; True for the one request that does (two at once: one wins)."""
    result = db.session.execute(
        sa.update(PendingSignIn)
        .where(
            PendingSignIn.id == pending.id,
            PendingSignIn.finished_at.is_(None),
            PendingSignIn.failures < current_app.config["FACTOR_MAX_ATTEMPTS"],
        )
        .values(finished_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(pending, ["finished_at"])
    return result.rowcount == 1


def remove_old(now: datetime) -> int:
    """Delete pending sign-ins that expired a day ago or more (for `idp cleanup`)."""
    result = db.session.execute(
        sa.delete(PendingSignIn)
        .where(PendingSignIn.expires_at < now - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
