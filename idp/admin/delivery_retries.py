""" "Retry now" on the outboxes, one operation for the console's deliveries page and the
admin API: the rows become due at once with a fresh retry period
(idp.sessions.outbox.requeue, idp.mail.outbox.requeue), and the retry is one audit event
whose actor is the administrator's sub or the automation client's id. The caller commits."""

from __future__ import annotations

from flask import current_app

from idp import audit
from idp.extensions import utcnow
from idp.mail import outbox as mail_outbox
from idp.sessions import outbox as logout_outbox

# How many row ids an audit event lists (the count is always there).
LISTED_IDS = 100


def retry_logout(ids: list[int] | None, client_id: str | None, *, actor: str) -> list[int]:
    """Logout notices (`ids`, or every failed one, of `client_id` if given); those requeued."""
    requeued = logout_outbox.requeue(
        now=utcnow(),
        retry_seconds=int(current_app.config["LOGOUT_RETRY_SECONDS"]),
        ids=ids,
        client_id=client_id,
    )
    audit.record(
        "deliveries.retry",
        actor=actor,
        subject=client_id,
        detail={"outbox": "logout", "ids": requeued[:LISTED_IDS], "count": len(requeued)},
        **audit.request_origin(),
    )
    return requeued


def retry_mail(ids: list[int] | None, *, actor: str) -> tuple[list[int], list[int]]:
    """Mail (`ids`, or every failed message): (requeued, not resendable: a single-use link
    in it is gone)."""
    requeued, skipped = mail_outbox.requeue(
        now=utcnow(), retry_seconds=int(current_app.config["MAIL_RETRY_SECONDS"]), ids=ids
    )
    audit.record(
        "deliveries.retry",
        actor=actor,
        detail={
            "outbox": "mail",
            "ids": requeued[:LISTED_IDS],
            "count": len(requeued),
            "not_resendable": skipped[:LISTED_IDS],
        },
        **audit.request_origin(),
    )
    return requeued, skipped
