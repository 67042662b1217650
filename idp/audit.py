"""The audit log: one row per security-relevant event (sign-ins, admin changes, ...)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db, utcnow

log = logging.getLogger("idp.audit")
# Old events are deleted this many at a time, so one cleanup never holds a long transaction.
REMOVE_BATCH = 5000


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Who acted: a user's sub, "cli:<os user>", a client_id, or "anonymous".
    actor: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    # What it acted on: a user's sub, a unit code, a client_id, an e-mail that was tried, ...
    subject: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    outcome: Mapped[str] = mapped_column(sa.String(16), default="success")
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


def record(
    action: str,
    *,
    actor: str,
    subject: str | None = None,
    outcome: str = "success",
    ip: str | None = None,
    user_agent: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits)."""
    event = AuditEvent(
        actor=actor,
        action=action,
        subject=subject,
        outcome=outcome,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
        detail=detail or {},
    )
    db.session.add(event)
    log.info(
        "audit",
        extra={"event": action, "actor": actor, "subject": subject, "outcome": outcome},
    )
    return event


def request_origin() -> dict[str, str | None]:
    """The client address and user agent of the current request, for record()."""
    from flask import has_request_context, request

    if not has_request_context():
        return {"ip": None, "user_agent": None}
    # Headers are client input: PostgreSQL text cannot hold NUL, and logs want one line.
    agent = "".join(c for c in request.headers.get("User-Agent", "") if c.isprintable())
    return {"ip": request.remote_addr, "user_agent": agent or None}


def remove_expired_events(now: datetime | None = None, limit: int = REMOVE_BATCH) -> int:
    """Delete up to `limit` events older than AUDIT_RETENTION_DAYS; returns how many.

    The caller commits and calls again until it returns 0 (`idp cleanup`).
    """
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["AUDIT_RETENTION_DAYS"])
    oldest = sa.select(AuditEvent.id).where(AuditEvent.at < cutoff).limit(limit)
    result = db.session.execute(
        sa.delete(AuditEvent)
        .where(AuditEvent.id.in_(oldest.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
