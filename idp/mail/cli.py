"""Commands: `idp mail list`, `idp mail send-test`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from idp.commands import CliError, emit_json, local_time_plain
from idp.extensions import commit
from idp.mail import outbox, queue, transport, worker
from idp.mail.compose import MailError
from idp.mail.models import KIND_TEST, MAIL_SENT, MAIL_STATUSES, MailMessage


@click.group("mail")
def mail_group() -> None:
    """E-mail messages: their state, and a test message to check the SMTP setup."""


def _where() -> str:
    carrier = transport.transport_name(current_app.config)
    if carrier is None:
        return "nowhere: " + worker.NO_SMTP_WARNING
    if carrier == "smtp":
        config = current_app.config
        return (
            f"SMTP {config['MAIL_SMTP_HOST']}:{config['MAIL_SMTP_PORT']} "
            f"({config['MAIL_SMTP_SECURITY']})"
        )
    return f"the development mailbox, {current_app.config['ISSUER']}/dev/mail"


def _json(row: MailMessage) -> dict:
    return {
        "id": row.id,
        "to": row.recipient,
        "kind": row.kind,
        "language": row.language,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "transport": row.transport,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "sent_at": row.sent_at and row.sent_at.isoformat(),
    }


@mail_group.command("list")
@click.option("--status", type=click.Choice(MAIL_STATUSES))
@click.option("--to", "recipient", help="Only messages to this address.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def mail_list(status: str | None, recipient: str | None, limit: int, as_json: bool) -> None:
    """The newest messages first: recipient, kind, status, attempts, last error."""
    rows = outbox.list_messages(status=status, recipient=recipient, limit=limit)
    if as_json:
        emit_json(
            {
                "sent_through": _where(),
                "counts": outbox.counts_by_status(),
                "messages": [_json(r) for r in rows],
            }
        )
        return
    if transport.transport_name(current_app.config) is None:
        click.echo("Warning: " + worker.NO_SMTP_WARNING, err=True)
    if not rows:
        click.echo("no messages")
        return
    for r in rows:
        when = local_time_plain(r.sent_at or r.created_at)
        click.echo(
            f"{r.id}  {r.status:<8} {when}  {r.recipient}  {r.kind}/{r.language}  "
            f"{r.attempts} attempt(s)  {r.transport or '-'}  {r.subject}"
        )
        if r.last_error and r.status != MAIL_SENT:
            click.echo(f"    last error: {r.last_error}")
    counts = outbox.counts_by_status()
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in MAIL_STATUSES))


@mail_group.command("send-test")
@click.argument("address")
@click.option("--language", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@with_appcontext
def mail_send_test(address: str, language: str) -> None:
    """Queue a test message to ADDRESS and send what is due at once: checks the SMTP setup."""
    try:
        row = queue(address, KIND_TEST, "test", {}, language)
    except MailError as exc:
        raise CliError(str(exc)) from None
    commit()
    row_id = row.id
    if transport.transport_name(current_app.config) is None:
        raise CliError(f"queued as message {row_id}, not sent: {worker.NO_SMTP_WARNING}")
    worker.send_due()
    sent = outbox.get(row_id)
    if sent is None or sent.status != MAIL_SENT:
        detail = sent.last_error if sent is not None else "removed"
        state = sent.status if sent is not None else "?"
        raise CliError(f"message {row_id} not sent ({state}): {detail}")
    click.echo(f"message {row_id} sent to {sent.recipient} through {_where()}")


def init_app(app: Flask) -> None:
    app.cli.add_command(mail_group)
