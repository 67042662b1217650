"""Storage of passkeys and of the challenges already answered. Never commits."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

from idp.extensions import db, insert_for
from idp.passkeys.models import Passkey, PasskeyUsedChallenge


def passkeys_of(user_id: int) -> list[Passkey]:
    """A person's passkeys, oldest first."""
    return list(
        db.session.execute(
            sa.select(Passkey)
            .where(Passkey.user_id == user_id)
            .order_by(Passkey.created_at, Passkey.id)
        ).scalars()
    )


def count_of(user_id: int) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Passkey).where(Passkey.user_id == user_id)
    ).scalar_one()


def find_by_credential_id(credential_id: str) -> Passkey | None:
    return db.session.execute(
        sa.select(Passkey).where(Passkey.credential_id == credential_id)
    ).scalar_one_or_none()


# Row ids are 32-bit integers on PostgreSQL: a larger id in a URL is no passkey.
MAX_ID = 2**31 - 1


def find_of_user(user_id: int, passkey_id: int) -> Passkey | None:
    """The passkey `passkey_id` if it is this person's, else None (whoever's it is)."""
    if not 0 < passkey_id <= MAX_ID:
        return None
    return db.session.execute(
        sa.select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
    ).scalar_one_or_none()


def add(passkey: Passkey) -> None:
    db.session.add(passkey)
    db.session.flush()


def delete(passkey: Passkey) -> None:
    db.session.delete(passkey)
    db.session.flush()


def note_challenge(challenge: bytes, expires_at: datetime) -> bool:
    """Remember an answered challenge; False if it was answered before (a replay)."""
    key = hashlib.sha256(challenge).hexdigest()
    dialect = db.session.get_bind().dialect.name
    inserted = db.session.execute(
        insert_for(dialect, PasskeyUsedChallenge)
        .values(key=key, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(PasskeyUsedChallenge.key)
    ).first()
    # RETURNING rather than rowcount: psycopg reports -1 for INSERT .. ON CONFLICT.
    return inserted is not None


def remove_expired_challenges(now: datetime) -> int:
    statement = sa.delete(PasskeyUsedChallenge).where(PasskeyUsedChallenge.expires_at < now)
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount or 0
