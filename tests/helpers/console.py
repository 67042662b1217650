"""Reading what the console's people and audit pages did: audit events, a person's state."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from helpers.pages import csrf_token


def events(app, action: str | None = None) -> list[dict[str, Any]]:
    """Audit events, oldest first (optionally of one action)."""
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return [
            {
                "action": e.action,
                "actor": e.actor,
                "subject": e.subject,
                "outcome": e.outcome,
                "detail": e.detail,
            }
            for e in db.session.scalars(query)
        ]


def user_status(app, sub: str) -> str:
    from idp.directory.store import find_user_by_sub

    with app.app_context():
        return find_user_by_sub(sub).status


def post_action(http, sub: str, name: str, *, confirmed: bool = True, **fields: str):
    """Do an action on a person's page as the console does: the form's CSRF token from the
    person's page, and the confirmation."""
    token = csrf_token(http.get(f"/admin/people/{sub}").get_data(as_text=True))
    data = {"csrf_token": token, **fields}
    if confirmed:
        data["confirmed"] = "yes"
    return http.post(f"/admin/people/{sub}/{name}", data=data)
