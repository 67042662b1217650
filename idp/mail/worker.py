"""The mail job of `idp worker`: claim due messages, send them, record the outcomes.

It owns its transactions, as the logout delivery does: the claim is committed before the
SMTP conversation, the outcomes after it, so a message is never held by an open
transaction while a slow server answers, and a worker that dies mid-batch only delays its
messages by one lease. `idp` (create_app) registers it as a periodic job of `idp worker`.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from flask import current_app

from idp.extensions import commit, rollback, utcnow
from idp.mail import outbox, transport
from idp.mail.models import TRANSPORT_DEV_MAILBOX

log = logging.getLogger("idp.mail")

# At most this many batches per run of the job, so other periodic jobs get their turn.
MAX_BATCHES_PER_RUN = 10
# Finished messages older than MAIL_KEEP_SECONDS are removed this often.
CLEANUP_INTERVAL_SECONDS = 600
# The warning that production has no SMTP server is repeated this often.
WARN_INTERVAL_SECONDS = 600


def _last() -> dict[str, float]:
    """When this app last cleaned up and warned (per app: tests make many)."""
    return current_app.extensions.setdefault(
        "idp.mail.worker", {"cleanup": -float("inf"), "warning": -float("inf")}
    )


NO_SMTP_WARNING = (
    "IDP_MAIL_SMTP_HOST is not set: e-mail messages stay queued (pending) until an SMTP "
    "server is configured (docs/mail.md)"
)


def _lease_seconds(settings: transport.SmtpSettings, batch: int) -> float:
    # Connecting, greeting, TLS, sign-in, then each message: every step within the timeout.
    return settings.timeout * (batch + 6)


def send_due(now: datetime | None = None) -> dict[str, int]:
    """Send what is due now; the number of messages per new status."""
    config = current_app.config
    carrier = transport.transport_name(config)
    if carrier is None:
        _warn_no_smtp()
        return {}
    settings = transport.SmtpSettings.from_config(config)
    retry = outbox.RetryPolicy(
        first_delay_seconds=float(config["MAIL_RETRY_FIRST_DELAY_SECONDS"]),
        max_delay_seconds=float(config["MAIL_RETRY_MAX_DELAY_SECONDS"]),
    )
    batch = int(config["MAIL_BATCH_SIZE"])
    counts: dict[str, int] = {}
    for _ in range(MAX_BATCHES_PER_RUN):
        clock = now or utcnow()
        try:
            rows = outbox.claim(
                now=clock,
                lease_seconds=_lease_seconds(settings, batch),
                limit=batch,
                per_hour=int(config["MAIL_PER_RECIPIENT_PER_HOUR"]),
            )
            commit()  # the rows are this worker's now; nobody waits on the SMTP server
        except Exception:  # a database hiccup must not end the worker
            log.exception("claiming mail failed; trying again later")
            rollback()
            break
        if not rows:
            break
        if carrier == TRANSPORT_DEV_MAILBOX:
            results = transport.keep_in_dev_mailbox(rows, settings)
        else:
            results = transport.send_smtp(rows, settings)
        for status in _record(results, now or utcnow(), retry):
            counts[status] = counts.get(status, 0) + 1
    _cleanup_if_due(now)
    return counts


def _record(results: list[outbox.Result], now: datetime, retry: outbox.RetryPolicy) -> list[str]:
    try:
        statuses = outbox.record(results, now=now, retry=retry)
        commit()
    except Exception:  # the rows stay claimed until their lease ends, then are tried again
        log.exception("storing mail outcomes failed")
        rollback()
        return []
    for result, status in zip(results, statuses, strict=True):
        if not result.ok:
            log.warning(
                "mail %d to %s not sent (%s): %s",
                result.row.id,
                result.row.envelope.recipient,
                status,
                outbox.clean_error(result.error or ""),
            )
    return statuses


def _warn_no_smtp() -> None:
    last = _last()
    if time.monotonic() - last["warning"] < WARN_INTERVAL_SECONDS:
        return
    try:
        pending = outbox.has_pending()
    finally:
        rollback()
    if pending:
        last["warning"] = time.monotonic()
        log.warning(NO_SMTP_WARNING)


def _cleanup_if_due(now: datetime | None) -> None:
    last = _last()
    if time.monotonic() - last["cleanup"] < CLEANUP_INTERVAL_SECONDS:
        return
    last["cleanup"] = time.monotonic()
    keep = timedelta(seconds=current_app.config["MAIL_KEEP_SECONDS"])
    try:
        removed = outbox.remove_finished(older_than=(now or utcnow()) - keep)
        commit()
    except Exception:  # cleaning up can wait for the next time
        log.exception("removing finished mail failed")
        rollback()
        return
    if removed:
        log.info("removed %d finished mail messages", removed)
