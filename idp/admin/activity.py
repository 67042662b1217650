"""What the console reads about applications from the audit log and the logout outbox.

A sign-in to an application is the audit event "authorize" (idp.oidc.grants: a code issued
to the client for a person), with the person's sub as actor and the client_id as subject.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from idp.audit import AuditEvent
from idp.directory.models import User
from idp.extensions import db
from idp.sessions import outbox
from idp.sessions.models import DELIVERY_FAILED, DELIVERY_GAVE_UP, DELIVERY_PENDING

SIGN_IN_ACTION = "authorize"
RECENT_SIGN_INS = 20


@dataclass(frozen=True)
class SignIn:
    at: datetime
    sub: str
    name: str | None
    email: str | None
    acr: str | None
    ip: str | None


def last_sign_ins(client_ids: Iterable[str]) -> dict[str, datetime]:
    """The time of each client's latest sign-in (clients without one are left out)."""
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(AuditEvent.subject, sa.func.max(AuditEvent.at))
        .where(AuditEvent.action == SIGN_IN_ACTION, AuditEvent.subject.in_(ids))
        .group_by(AuditEvent.subject)
    )
    return {subject: at for subject, at in rows}


def recent_sign_ins(client_id: str, limit: int = RECENT_SIGN_INS) -> list[SignIn]:
    """The client's latest sign-ins, newest first, with the person's name where known."""
    rows = db.session.execute(
        sa.select(AuditEvent, User.family_name, User.middle_name, User.given_name, User.email)
        .outerjoin(User, User.sub == AuditEvent.actor)
        .where(AuditEvent.action == SIGN_IN_ACTION, AuditEvent.subject == client_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return [
        SignIn(
            at=event.at,
            sub=event.actor,
            name=" ".join(p for p in (family, middle, given) if p) or None,
            email=email,
            acr=(event.detail or {}).get("acr"),
            ip=event.ip,
        )
        for event, family, middle, given, email in rows
    ]


@dataclass(frozen=True)
class DeliveryState:
    """A client's back-channel logout notices that are not delivered (yet)."""

    pending: list
    failed: list

    @property
    def healthy(self) -> bool:
        return not self.failed


def delivery_state(client_id: str, limit: int = 20) -> DeliveryState:
    pending = outbox.list_deliveries(status=DELIVERY_PENDING, client_id=client_id, limit=limit)
    failed = [
        *outbox.list_deliveries(status=DELIVERY_FAILED, client_id=client_id, limit=limit),
        *outbox.list_deliveries(status=DELIVERY_GAVE_UP, client_id=client_id, limit=limit),
    ]
    failed.sort(key=lambda row: (row.created_at, row.id), reverse=True)
    return DeliveryState(pending=pending, failed=failed[:limit])
