"""Storage of the mail outbox: the only module that touches its rows.

`add` puts a rendered message in the caller's transaction: it is sent only if that
transaction commits. A worker `claim`s due rows (with a lease, as the logout outbox
does: `FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on both engines, so
any number of workers may run), sends them, and `record`s each outcome.

The per-recipient allowance is applied when claiming: a recipient who was sent
`per_hour` messages in the last hour (counting those claimed and in flight) gets no more
until the oldest of them is an hour old; their other due rows are moved to that time.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from idp.extensions import db
from idp.mail.compose import Envelope
from idp.mail.models import (
    KIND_ACTIVATION,
    KIND_PASSWORD_RESET,
    MAIL_FAILED,
    MAIL_GAVE_UP,
    MAIL_PENDING,
    MAIL_SENT,
    TRANSPORT_DEV_MAILBOX,
    MailMessage,
)
from idp.retries import clean_error, retry_delay

HOUR = timedelta(hours=1)
# Due rows looked at per claim, for each row that may be taken: room for the rows of
# recipients whose allowance is used up.
CANDIDATES_PER_SLOT = 4
# Kinds of message that carry a single-use password link, and what replaces their text
# once they are sent or given up (`record`).
LINK_KINDS = (KIND_ACTIVATION, KIND_PASSWORD_RESET)
BODY_REMOVED = "[removed after sending: it held a single-use link]"


def add(row: MailMessage) -> MailMessage:
    db.session.add(row)
    db.session.flush()
    return row


@dataclass(frozen=True)
class Claimed:
    """A claimed row as plain values: the message, and what recording checks."""

    id: int
    envelope: Envelope
    attempts: int
    give_up_at: datetime
    claimed_by: str


def _due(now: datetime):
    return sa.and_(
        MailMessage.status == MAIL_PENDING,
        MailMessage.next_attempt_at <= now,
        sa.or_(MailMessage.lease_until.is_(None), MailMessage.lease_until < now),
    )


@dataclass
class _Allowance:
    """Messages of the last hour per recipient, and when the oldest of them leaves it."""

    used: dict[str, int]
    frees_at: dict[str, datetime]


def _allowance(recipients: set[str], now: datetime) -> _Allowance:
    sent = sa.and_(MailMessage.status == MAIL_SENT, MailMessage.sent_at > now - HOUR)
    in_flight = sa.and_(MailMessage.status == MAIL_PENDING, MailMessage.lease_until >= now)
    rows = db.session.execute(
        sa.select(
            MailMessage.recipient,
            sa.func.count(),
            sa.func.min(MailMessage.sent_at),
        )
        .where(MailMessage.recipient.in_(recipients), sa.or_(sent, in_flight))
        .group_by(MailMessage.recipient)
    )
    allowance = _Allowance(used={}, frees_at={})
    for recipient, count, oldest in rows:
        allowance.used[recipient] = count
        # Only rows in flight: look again once their lease is over.
        allowance.frees_at[recipient] = (oldest + HOUR) if oldest else now + timedelta(minutes=1)
    return allowance


def _pick(
    candidates: list[tuple[int, str]], allowance: _Allowance, per_hour: int, limit: int
) -> tuple[list[int], dict[str, list[int]]]:
    """The rows to take now, and the rows to put off, by recipient."""
    taken: list[int] = []
    put_off: dict[str, list[int]] = defaultdict(list)
    for row_id, recipient in candidates:
        if allowance.used.get(recipient, 0) >= per_hour:
            put_off[recipient].append(row_id)
        elif len(taken) < limit:
            taken.append(row_id)
            allowance.used[recipient] = allowance.used.get(recipient, 0) + 1
    return taken, put_off


def _put_off(put_off: dict[str, list[int]], allowance: _Allowance, now: datetime) -> None:
    for recipient, ids in put_off.items():
        db.session.execute(
            sa.update(MailMessage)
            .where(MailMessage.id.in_(ids), _due(now))
            .values(next_attempt_at=allowance.frees_at.get(recipient, now + HOUR))
            .execution_options(synchronize_session=False)
        )


def claim(*, now: datetime, lease_seconds: float, limit: int, per_hour: int) -> list[Claimed]:
    """Take up to `limit` due rows within their recipients' allowance; the caller commits
    at once, before sending. Rows of recipients over their allowance are moved to when it
    frees up."""
    candidates = [
        (row_id, recipient)
        for row_id, recipient in db.session.execute(
            sa.select(MailMessage.id, MailMessage.recipient)
            .where(_due(now))
            .order_by(MailMessage.next_attempt_at, MailMessage.id)
            .limit(limit * CANDIDATES_PER_SLOT)
            .with_for_update(skip_locked=True)
        )
    ]
    if not candidates:
        return []
    allowance = _allowance({recipient for _, recipient in candidates}, now)
    taken, put_off = _pick(candidates, allowance, per_hour, limit)
    _put_off(put_off, allowance, now)
    if not taken:
        return []
    claim_id = secrets.token_hex(16)
    rows = db.session.execute(
        sa.update(MailMessage)
        .where(MailMessage.id.in_(taken), _due(now))
        .values(claimed_by=claim_id, lease_until=now + timedelta(seconds=lease_seconds))
        .returning(
            MailMessage.id,
            MailMessage.recipient,
            MailMessage.language,
            MailMessage.subject,
            MailMessage.text_body,
            MailMessage.html_body,
            MailMessage.message_id,
            MailMessage.created_at,
            MailMessage.attempts,
            MailMessage.give_up_at,
        )
        .execution_options(synchronize_session=False)
    ).all()
    claimed = [
        Claimed(
            id=row[0],
            envelope=Envelope(*row[1:8]),
            attempts=row[8],
            give_up_at=row[9],
            claimed_by=claim_id,
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


@dataclass(frozen=True)
class Result:
    """The outcome of one attempt on a claimed row."""

    row: Claimed
    ok: bool
    transport: str | None = None
    permanent: bool = False
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_seconds: float
    max_delay_seconds: float


def _outcome_values(result: Result, now: datetime, retry: RetryPolicy) -> dict:
    attempts = result.row.attempts + 1
    values: dict = {
        "attempts": attempts,
        "last_attempt_at": now,
        "claimed_by": None,
        "lease_until": None,
    }
    if result.ok:
        values.update(status=MAIL_SENT, sent_at=now, transport=result.transport, last_error=None)
        return values
    values["last_error"] = clean_error(result.error or "failed")
    next_at = now + retry_delay(attempts, retry.first_delay_seconds, retry.max_delay_seconds)
    if result.permanent:
        values["status"] = MAIL_FAILED
    elif next_at > result.row.give_up_at:
        values["status"] = MAIL_GAVE_UP
    else:
        values.update(status=MAIL_PENDING, next_attempt_at=next_at)
    return values


def record(results: list[Result], *, now: datetime, retry: RetryPolicy) -> list[str]:
    """Store the outcomes (the caller commits); the new statuses. A row is written only
    while this claim still holds it: a late outcome never overwrites a later worker's."""
    statuses = []
    for result in results:
        values = _outcome_values(result, now, retry)
        if values["status"] != MAIL_PENDING and values.get("transport") != TRANSPORT_DEV_MAILBOX:
            # A message carrying a password link keeps no copy of it once it is out of our
            # hands (or never will be): the link opens an account until used or expired.
            # The development mailbox keeps it: it is how a developer reads the link.
            for column in ("text_body", "html_body"):
                values[column] = sa.case(
                    (MailMessage.kind.in_(LINK_KINDS), BODY_REMOVED),
                    else_=getattr(MailMessage, column),
                )
        db.session.execute(
            sa.update(MailMessage)
            .where(MailMessage.id == result.row.id, MailMessage.claimed_by == result.row.claimed_by)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        statuses.append(values["status"])
    return statuses


def has_pending() -> bool:
    query = sa.select(MailMessage.id).where(MailMessage.status == MAIL_PENDING).limit(1)
    return db.session.execute(query).first() is not None


def list_messages(
    *, status: str | None = None, recipient: str | None = None, limit: int = 50
) -> list[MailMessage]:
    """The newest messages first (for `idp mail list` and the dev mailbox)."""
    query = sa.select(MailMessage)
    if status:
        query = query.where(MailMessage.status == status)
    if recipient:
        query = query.where(MailMessage.recipient == recipient.strip().lower())
    query = query.order_by(MailMessage.created_at.desc(), MailMessage.id.desc())
    return list(db.session.execute(query.limit(limit)).scalars())


def get(message_id: int) -> MailMessage | None:
    return db.session.get(MailMessage, message_id)


def counts_by_status() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(MailMessage.status, sa.func.count()).group_by(MailMessage.status)
    )
    return {status: count for status, count in rows}


def remove_finished(*, older_than: datetime) -> int:
    """Delete sent, failed and given-up messages created before `older_than`.

    Looks first, so that a worker with nothing to remove takes no write lock (SQLite)."""
    finished = sa.and_(
        MailMessage.status.in_([MAIL_SENT, MAIL_FAILED, MAIL_GAVE_UP]),
        MailMessage.created_at < older_than,
    )
    if db.session.execute(sa.select(MailMessage.id).where(finished).limit(1)).first() is None:
        return 0
    result = db.session.execute(
        sa.delete(MailMessage).where(finished).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


RETRYABLE_STATUSES = (MAIL_FAILED, MAIL_GAVE_UP)


def retryable(row: MailMessage) -> bool:
    """Whether sending the message again would send what was queued: a message that held
    a single-use link kept no copy of it (`record`), so only a new link helps."""
    return row.status in RETRYABLE_STATUSES and not (
        row.kind in LINK_KINDS and row.text_body == BODY_REMOVED
    )


def requeue(
    *, now: datetime, retry_seconds: int, ids: list[int] | None = None
) -> tuple[list[int], list[int]]:
    """Put failed and given-up messages back in the queue, due now, with a fresh retry
    period (the console's "retry now"): (ids requeued, ids that cannot be resent because
    their single-use link was removed). `ids` None means every failed message. The caller
    commits; `idp worker` sends them in its next round."""
    query = sa.select(MailMessage).where(MailMessage.status.in_(RETRYABLE_STATUSES))
    if ids is not None:
        if not ids:
            return [], []
        query = query.where(MailMessage.id.in_(ids))
    rows = list(db.session.execute(query.order_by(MailMessage.id)).scalars())
    chosen = [row.id for row in rows if retryable(row)]
    skipped = [row.id for row in rows if not retryable(row)]
    if chosen:
        db.session.execute(
            sa.update(MailMessage)
            .where(MailMessage.id.in_(chosen), MailMessage.status.in_(RETRYABLE_STATUSES))
            .values(
                status=MAIL_PENDING,
                next_attempt_at=now,
                give_up_at=now + timedelta(seconds=retry_seconds),
                claimed_by=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
    return chosen, skipped
