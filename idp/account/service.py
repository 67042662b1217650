"""What the account page shows: recent sign-ins and a readable name for each device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from idp.audit import AuditEvent
from idp.extensions import db
from idp.sessions.devices import describe_device

RECENT_SIGN_INS = 10


# (pattern, name), first match wins: Edge and Opera also say "Chrome", Chrome says "Safari".
@dataclass(frozen=True)
class SignIn:
    at: datetime
    ip: str | None
    device: str
    user_agent: str | None


def recent_sign_ins(sub: str, limit: int = RECENT_SIGN_INS) -> list[SignIn]:
    """The user's latest successful sign-ins, newest first, from the audit log."""
    events = db.session.execute(
        sa.select(AuditEvent)
        .where(
            AuditEvent.action == "login",
            AuditEvent.subject == sub,
            AuditEvent.outcome == "success",
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).scalars()
    return [SignIn(e.at, e.ip, describe_device(e.user_agent), e.user_agent) for e in events]
