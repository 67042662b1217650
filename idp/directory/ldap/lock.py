"""The lock that keeps two syncs from overlapping: a row per source, on any database.

Taken and given back in transactions of their own (committed at once, seen by every other
process), never in the sync's: the sync's own transaction may be rolled back. A row is
taken with one conditional UPDATE (free, or held longer than the stale limit), so two
processes racing for it cannot both win. A holder that died (kill -9, a rebooted host) is
replaced once its lock is older than LDAP_SYNC_LOCK_STALE_SECONDS.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from idp.directory.models import DirectorySyncLock
from idp.extensions import db, insert_for, own_transaction, utcnow

LOCK_NAME = "ldap"


@dataclass
class HeldBy:
    holder: str
    acquired_at: datetime


def new_holder() -> str:
    """Who takes the lock: host, process and a random part (a reused pid is another run)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire(holder: str, stale_seconds: int, now: datetime | None = None) -> HeldBy | None:
    """Take the lock; None when taken, else who holds it (and since when)."""
    now = now or utcnow()
    table = DirectorySyncLock.__table__
    with own_transaction() as session:
        dialect = session.get_bind().dialect.name
        session.execute(
            insert_for(dialect, DirectorySyncLock)
            .values(name=LOCK_NAME, holder=None, acquired_at=None)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        taken = session.execute(
            sa.update(table)
            .where(
                table.c.name == LOCK_NAME,
                sa.or_(
                    table.c.holder.is_(None),
                    table.c.acquired_at < now - timedelta(seconds=stale_seconds),
                ),
            )
            .values(holder=holder, acquired_at=now)
        )
        if taken.rowcount == 1:
            return None
        row = session.execute(
            sa.select(table.c.holder, table.c.acquired_at).where(table.c.name == LOCK_NAME)
        ).one()
        return HeldBy(row.holder or "?", row.acquired_at)


def release(holder: str) -> None:
    """Give the lock back, if this holder still has it (a stale one may have been taken)."""
    table = DirectorySyncLock.__table__
    with own_transaction() as session:
        session.execute(
            sa.update(table)
            .where(table.c.name == LOCK_NAME, table.c.holder == holder)
            .values(holder=None, acquired_at=None)
        )


def holder_now() -> str | None:
    return db.session.execute(
        sa.select(DirectorySyncLock.holder).where(DirectorySyncLock.name == LOCK_NAME)
    ).scalar_one_or_none()
