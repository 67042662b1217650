"""Single-use links to set a password: activation of an imported account, and reset.

A link carries a random token (256 bits); only its SHA-256 is stored, so a copy of the
database opens no account. A link is used by one conditional UPDATE (`used_at IS NULL`
and not expired, for its purpose): of two requests using the same link at once, one
updates the row and the other finds nothing, on SQLite and on PostgreSQL alike (the
second waits for the first's row lock, then sees `used_at` set).

Once a password is set by any means, every link of that person still open is void
(`void_links`), so an older mail cannot undo a newer choice.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from idp.directory.models import TOKEN_PURPOSES, AccountToken, User
from idp.extensions import db, utcnow

TOKEN_BYTES = 32
# Longer values are not ours: refused before any hashing or lookup.
TOKEN_MAX_LENGTH = 128

# What a link turned out to be, when it cannot be used.
LINK_UNKNOWN = "unknown"  # no such token, or a token of another purpose
LINK_USED = "used"
LINK_EXPIRED = "expired"


@dataclass(frozen=True)
class LinkCheck:
    """A link looked up: its person when usable, else why not (`problem`)."""

    user: User | None
    problem: str | None = None
    expires_at: datetime | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _well_formed(token: str | None) -> bool:
    return bool(token) and len(token) <= TOKEN_MAX_LENGTH and token.isascii()


def issue_link(
    user: User, purpose: str, *, lifetime_seconds: int, actor: str, start: datetime | None = None
) -> str:
    """Store a new link for `user` and return its token (the only time it exists in clear).

    `start`: when the mail carrying it is due (an invitation sent later in a batch); the
    lifetime counts from then. The caller commits."""
    if purpose not in TOKEN_PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    db.session.add(
        AccountToken(
            token_hash=hash_token(token),
            user_id=user.id,
            purpose=purpose,
            created_at=now,
            expires_at=max(now, start or now) + timedelta(seconds=lifetime_seconds),
            created_by=actor[:255],
        )
    )
    return token


def check_link(token: str | None, purpose: str, now: datetime | None = None) -> LinkCheck:
    """Read-only: may this link be used now? (The page that asks for the new password.)"""
    if not _well_formed(token):
        return LinkCheck(None, LINK_UNKNOWN)
    row = db.session.execute(
        sa.select(AccountToken).where(AccountToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.purpose != purpose:
        return LinkCheck(None, LINK_UNKNOWN)
    if row.used_at is not None:
        return LinkCheck(None, LINK_USED)
    if row.expires_at <= (now or utcnow()):
        return LinkCheck(None, LINK_EXPIRED)
    if not row.user.is_active:
        return LinkCheck(None, LINK_UNKNOWN)
    return LinkCheck(row.user, None, row.expires_at)


def use_link(token: str, purpose: str, now: datetime | None = None) -> int | None:
    """Mark the link used, atomically; the id of its person, or None when another request
    used it first, it expired meanwhile, or it is no link of this purpose."""
    if not _well_formed(token):
        return None
    now = now or utcnow()
    result = db.session.execute(
        sa.update(AccountToken)
        .where(
            AccountToken.token_hash == hash_token(token),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken.user_id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


def void_links(user_id: int, now: datetime | None = None) -> int:
    """Every open link of this person stops working (a password was just set)."""
    result = db.session.execute(
        sa.update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def users_with_open_link(user_ids: list[int], purpose: str, now: datetime) -> set[int]:
    """Of these people, those who have a link of this purpose still usable."""
    found: set[int] = set()
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        found.update(
            db.session.execute(
                sa.select(AccountToken.user_id).where(
                    AccountToken.user_id.in_(chunk),
                    AccountToken.purpose == purpose,
                    AccountToken.used_at.is_(None),
                    AccountToken.expires_at > now,
                )
            ).scalars()
        )
    return found


def remove_old_links(now: datetime, keep_seconds: int) -> int:
    """Delete links expired or used more than `keep_seconds` ago (for `idp cleanup`)."""
    cutoff = now - timedelta(seconds=keep_seconds)
    result = db.session.execute(
        sa.delete(AccountToken)
        .where(sa.or_(AccountToken.expires_at <= cutoff, AccountToken.used_at <= cutoff))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
