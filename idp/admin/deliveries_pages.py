"""The outboxes in the console: back-channel logout notices and e-mail, pending and failed,
with "retry now" for one failed row or all of them (idp.sessions.outbox.requeue,
idp.mail.outbox.requeue: due now, with a fresh retry period)."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for

from idp.admin import delivery_retries
from idp.admin.console import bp, console_page, super_only
from idp.extensions import commit
from idp.mail import outbox as mail_outbox
from idp.mail.models import MAIL_STATUSES
from idp.sessions import outbox as logout_outbox
from idp.sessions.models import DELIVERY_STATUSES

LIST_LIMIT = 100
DEFAULT_STATUS = "failed"
# Row ids are INTEGER columns (32 bits on PostgreSQL): a larger number names no row.
MAX_ROW_ID = 2**31 - 1


def _filters() -> dict[str, str]:
    args = request.args
    return {
        "logout_status": args.get("logout_status", DEFAULT_STATUS)[:16],
        "client_id": args.get("client_id", "").strip()[:128],
        "mail_status": args.get("mail_status", DEFAULT_STATUS)[:16],
        "recipient": args.get("recipient", "").strip()[:254],
    }


def _statuses(value: str, allowed) -> list[str | None]:
    """The statuses to list: "failed" means failed and given up (both wait for a person)."""
    if value == DEFAULT_STATUS:
        return [DEFAULT_STATUS, "gave_up"]
    return [value if value in allowed else None]


def _listed(list_rows, statuses: list[str | None], **filters) -> list:
    rows = [row for status in statuses for row in list_rows(status=status, **filters)]
    rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
    return rows[:LIST_LIMIT]


@bp.get("/deliveries")
@console_page
@super_only
def deliveries():
    filters = _filters()
    logout_rows = _listed(
        logout_outbox.list_deliveries,
        _statuses(filters["logout_status"], DELIVERY_STATUSES),
        client_id=filters["client_id"] or None,
        limit=LIST_LIMIT,
    )
    mail_rows = _listed(
        mail_outbox.list_messages,
        _statuses(filters["mail_status"], MAIL_STATUSES),
        recipient=filters["recipient"] or None,
        limit=LIST_LIMIT,
    )
    return render_template(
        "admin/deliveries.html",
        filters=filters,
        logout_rows=logout_rows,
        logout_counts=logout_outbox.counts_by_status(),
        logout_statuses=DELIVERY_STATUSES,
        mail_rows=mail_rows,
        mail_counts=mail_outbox.counts_by_status(),
        mail_statuses=MAIL_STATUSES,
        mail_retryable=mail_outbox.retryable,
    )


def _target() -> tuple[str, list[int] | None]:
    """("one", [id]) or, without an id, ("all", None); an id that names no row is a 404
    (never "all")."""
    if "id" not in request.values:
        return "all", None
    row_id = request.values.get("id", "")
    if not (row_id.isascii() and row_id.isdigit() and len(row_id) <= 10):
        abort(404)
    if not 0 < int(row_id) <= MAX_ROW_ID:
        abort(404)
    return "one", [int(row_id)]


@bp.route("/deliveries/logout/retry", methods=["GET", "POST"])
@console_page
@super_only
def deliveries_logout_retry():
    which, ids = _target()
    client_id = request.values.get("client_id", "").strip()[:128] or None
    if request.method == "GET":
        return render_template(
            "admin/deliveries_retry.html", box="logout", which=which, ids=ids, client_id=client_id
        )
    requeued = delivery_retries.retry_logout(ids, client_id, actor=g.admin_user.sub)
    commit()
    return redirect(url_for("admin.deliveries", retried=len(requeued), logout_status="pending"))


@bp.route("/deliveries/mail/retry", methods=["GET", "POST"])
@console_page
@super_only
def deliveries_mail_retry():
    which, ids = _target()
    if request.method == "GET":
        return render_template("admin/deliveries_retry.html", box="mail", which=which, ids=ids)
    requeued, skipped = delivery_retries.retry_mail(ids, actor=g.admin_user.sub)
    commit()
    return redirect(
        url_for("admin.deliveries", mail_retried=len(requeued), not_resendable=len(skipped))
    )
