"""Storage of the back-channel logout outbox: the only module that touches its rows.

Rows are added in the transaction that ends a session (`enqueue`), so a notice is owed
exactly when the session really ended. Delivering happens later and elsewhere: a worker
`claim`s due rows, sends, and `record`s the outcome.

Claiming is safe with any number of workers at once. A SELECT picks due rows (with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers skip each other's rows
instead of waiting), then a conditional UPDATE marks them with a random claim id and a
lease time; on SQLite that UPDATE runs under the single writer lock and takes only rows
still unclaimed. Only rows whose lease is over may be
claimed again, so a worker that died mid-delivery delays its rows by one lease, and a
live one never sees its rows delivered twice at the same time.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from idp.extensions import db
from idp.retries import clean_error, retry_delay
from idp.sessions.models import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_GAVE_UP,
    DELIVERY_PENDING,
    LogoutDelivery,
)

# Ids of rows added in the current transaction, started right after it commits
# (idp.sessions.delivery listens for the commit).
SESSION_INFO_KEY = "idp.logout_deliveries"


@dataclass(frozen=True)
class Claimed:
    """A claimed row, as plain values: what a delivery needs and what recording checks."""

    id: int
    client_id: str
    sub: str
    sid: str
    attempts: int
    give_up_at: datetime
    claimed_by: str


@dataclass(frozen=True)
class Notice:
    """A logout notice to queue: the relying party, the person and the ended session."""

    client_id: str
    sub: str
    sid: str
    reason: str


def enqueue(notices: Iterable[Notice], *, retry_seconds: int, now: datetime) -> list[int]:
    """Queue the notices in the current transaction; returns their row ids."""
    rows = [
        LogoutDelivery(
            client_id=n.client_id,
            sub=n.sub,
            sid=n.sid,
            reason=n.reason,
            status=DELIVERY_PENDING,
            attempts=0,
            next_attempt_at=now,
            give_up_at=now + timedelta(seconds=retry_seconds),
            created_at=now,
        )
        for n in notices
    ]
    if not rows:
        return []
    db.session.add_all(rows)
    db.session.flush()
    ids = [row.id for row in rows]
    db.session.info.setdefault(SESSION_INFO_KEY, []).extend(ids)
    return ids


def _due(now: datetime):
    return sa.and_(
        LogoutDelivery.status == DELIVERY_PENDING,
        LogoutDelivery.next_attempt_at <= now,
        sa.or_(LogoutDelivery.lease_until.is_(None), LogoutDelivery.lease_until < now),
    )


def claim(
    *, now: datetime, lease_seconds: float, limit: int, ids: list[int] | None = None
) -> list[Claimed]:
    """Take up to `limit` due rows (or, with `ids`, those of them that are due); the caller
    commits at once, before making the calls.

    A row is due when it is pending, its next attempt time has come and no live lease
    holds it. The returned rows are this caller's until their lease ends.
    """
    due = _due(now)
    if ids is not None:
        if not ids:
            return []
        due = sa.and_(due, LogoutDelivery.id.in_(ids))
    # PostgreSQL: lock the candidates, skipping rows another worker is claiming right now.
    # (A separate statement, not a subquery of the UPDATE: PostgreSQL may evaluate such a
    # subquery once per row, and its LIMIT would then not limit anything.)
    candidates = list(
        db.session.execute(
            sa.select(LogoutDelivery.id)
            .where(due)
            .order_by(LogoutDelivery.next_attempt_at, LogoutDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not candidates:
        return []
    claim_id = secrets.token_hex(16)
    # The conditions again: on SQLite, which has no row locks, two workers may have picked
    # the same candidates, and only the first UPDATE finds them still unclaimed.
    rows = db.session.execute(
        sa.update(LogoutDelivery)
        .where(LogoutDelivery.id.in_(candidates), due)
        .values(claimed_by=claim_id, lease_until=now + timedelta(seconds=lease_seconds))
        .returning(
            LogoutDelivery.id,
            LogoutDelivery.client_id,
            LogoutDelivery.sub,
            LogoutDelivery.sid,
            LogoutDelivery.attempts,
            LogoutDelivery.give_up_at,
        )
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((Claimed(*row, claimed_by=claim_id) for row in rows), key=lambda c: c.id)


def has_due(now: datetime) -> bool:
    """Whether a due row is left that nobody holds."""
    return (
        db.session.execute(sa.select(LogoutDelivery.id).where(_due(now)).limit(1)).first()
        is not None
    )


@dataclass(frozen=True)
class Result:
    """The outcome of one attempt on a claimed row."""

    row: Claimed
    ok: bool
    permanent: bool = False
    http_status: int | None = None
    error: str | None = None


def _outcome_values(
    result: Result, now: datetime, first_delay_seconds: float, max_delay_seconds: float
) -> dict[str, Any]:
    row = result.row
    attempts = row.attempts + 1
    # Every column is set for every row, so that one executemany writes a whole batch.
    values: dict[str, Any] = {
        "b_id": row.id,
        "b_claim": row.claimed_by,
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status": result.http_status,
        "delivered_at": None,
        "last_error": None,
        "next_attempt_at": now,
    }
    if result.ok:
        values.update(status=DELIVERY_DELIVERED, delivered_at=now)
        return values
    values["last_error"] = clean_error(result.error or "failed")
    next_at = now + retry_delay(attempts, first_delay_seconds, max_delay_seconds)
    if result.permanent:
        values["status"] = DELIVERY_FAILED
    elif next_at > row.give_up_at:
        values["status"] = DELIVERY_GAVE_UP
    else:
        values.update(status=DELIVERY_PENDING, next_attempt_at=next_at)
    return values


_RECORD = (
    sa.update(LogoutDelivery.__table__)
    .where(
        LogoutDelivery.__table__.c.id == sa.bindparam("b_id"),
        LogoutDelivery.__table__.c.claimed_by == sa.bindparam("b_claim"),
    )
    .values(
        {
            name: sa.bindparam(name)
            for name in (
                "attempts",
                "last_attempt_at",
                "last_status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
                "status",
            )
        }
        | {"claimed_by": None, "lease_until": None}
    )
)


def record_many(
    results: list[Result],
    *,
    now: datetime,
    first_delay_seconds: float,
    max_delay_seconds: float,
) -> list[str]:
    """Store the outcomes of attempts on claimed rows (the caller commits); new statuses.

    One statement for the batch. Each row is written only while this claim still owns
    it, so a late answer never overwrites the work of a worker that took the row over
    after the lease ended. Failures wait first, 2 x first, ... (capped) before the next
    attempt, or give up past `give_up_at`.
    """
    if not results:
        return []
    params = [_outcome_values(r, now, first_delay_seconds, max_delay_seconds) for r in results]
    db.session.connection().execute(_RECORD, params)
    return [p["status"] for p in params]


def record(result: Result, **options: Any) -> str:
    return record_many([result], **options)[0]


def list_deliveries(
    *,
    status: str | None = None,
    client_id: str | None = None,
    sub: str | None = None,
    limit: int = 50,
) -> list[LogoutDelivery]:
    """The newest rows first, filtered (for `idp logout-deliveries list` and the console)."""
    query = sa.select(LogoutDelivery)
    if status:
        query = query.where(LogoutDelivery.status == status)
    if client_id:
        query = query.where(LogoutDelivery.client_id == client_id)
    if sub:
        query = query.where(LogoutDelivery.sub == sub)
    query = query.order_by(LogoutDelivery.created_at.desc(), LogoutDelivery.id.desc())
    return list(db.session.execute(query.limit(limit)).scalars())


def counts_by_status() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(LogoutDelivery.status, sa.func.count()).group_by(LogoutDelivery.status)
    )
    return {status: count for status, count in rows}


def get(ids: list[int]) -> list[LogoutDelivery]:
    if not ids:
        return []
    return list(
        db.session.execute(
            sa.select(LogoutDelivery)
            .where(LogoutDelivery.id.in_(ids))
            .order_by(LogoutDelivery.id)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def remove_finished(*, older_than: datetime) -> int:
    """Delete delivered, failed and given-up rows created before `older_than`."""
    result = db.session.execute(
        sa.delete(LogoutDelivery)
        .where(
            LogoutDelivery.status.in_([DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_GAVE_UP]),
            LogoutDelivery.created_at < older_than,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


RETRYABLE_STATUSES = (DELIVERY_FAILED, DELIVERY_GAVE_UP)


def requeue(
    *,
    now: datetime,
    retry_seconds: int,
    ids: list[int] | None = None,
    client_id: str | None = None,
) -> list[int]:
    """Put failed and given-up rows back in the queue, due now, with a fresh retry period
    (the console's "retry now"); the ids requeued. The caller commits.

    `ids` narrows it to those rows (None: every failed row, or every one of `client_id`'s).
    Like new rows, they are attempted right after the commit when the provider delivers
    immediately (idp.sessions.worker), else by the next `idp worker` round.
    """
    query = sa.select(LogoutDelivery.id).where(LogoutDelivery.status.in_(RETRYABLE_STATUSES))
    if ids is not None:
        if not ids:
            return []
        query = query.where(LogoutDelivery.id.in_(ids))
    if client_id:
        query = query.where(LogoutDelivery.client_id == client_id)
    chosen = list(db.session.execute(query.order_by(LogoutDelivery.id)).scalars())
    if not chosen:
        return []
    db.session.execute(
        sa.update(LogoutDelivery)
        .where(LogoutDelivery.id.in_(chosen), LogoutDelivery.status.in_(RETRYABLE_STATUSES))
        .values(
            status=DELIVERY_PENDING,
            next_attempt_at=now,
            give_up_at=now + timedelta(seconds=retry_seconds),
            claimed_by=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.info.setdefault(SESSION_INFO_KEY, []).extend(chosen)
    return chosen
