"""E-mail that really leaves: messages rendered in the reader's language, queued in the
caller's transaction (`queue`), sent through SMTP by `idp worker` with retries and a
per-recipient hourly allowance; in development without an SMTP server, kept in a dev
mailbox shown at /dev/mail. Imports only the core (docs/architecture.md, docs/mail.md).

models/outbox: the `mail_outbox` table and its only store; compose: rendering and the
MIME message; transport: SMTP and the dev mailbox; worker: the job of `idp worker`;
cli: `idp mail list`, `idp mail send-test`; views: the dev mailbox pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app

from idp.extensions import utcnow
from idp.mail import outbox
from idp.mail.compose import MailError, clean_address, make_message_id, parse_sender, render
from idp.mail.models import MAIL_KINDS, MAIL_PENDING, MailMessage
from idp.mail.transport import SECURITY_CHOICES
from idp.settings import SettingsError

__all__ = ["MailError", "check_mail_settings", "init_app", "queue"]

POSITIVE_NUMBERS = (
    "MAIL_SMTP_TIMEOUT_SECONDS",
    "MAIL_RETRY_SECONDS",
    "MAIL_RETRY_FIRST_DELAY_SECONDS",
    "MAIL_RETRY_MAX_DELAY_SECONDS",
    "MAIL_POLL_SECONDS",
    "MAIL_KEEP_SECONDS",
)
POSITIVE_INTEGERS = ("MAIL_PER_RECIPIENT_PER_HOUR", "MAIL_BATCH_SIZE", "MAIL_SMTP_PORT")


def queue(
    to: str,
    kind: str,
    template: str,
    context: dict[str, Any],
    language: str | None = None,
    *,
    send_after: datetime | None = None,
) -> MailMessage:
    """Render mail/<template>.txt and .html in `language` and add the message to the
    current transaction (the caller commits; nothing is sent if it rolls back).

    `send_after`: not sent before then (a batch of invitations spread over time); it may
    be retried for MAIL_RETRY_SECONDS from then.

    MailError for an address that is not one plain e-mail address, an unknown kind or a
    template that sets no subject. A language not offered falls back to the default.
    """
    if kind not in MAIL_KINDS:
        raise MailError(f"unknown kind of mail: {kind!r}")
    recipient = clean_address(to)
    languages = current_app.config["LANGUAGES"]
    language = language if language in languages else languages[0]
    rendered = render(template, context, language)
    now = utcnow()
    due = max(now, send_after) if send_after is not None else now
    sender = parse_sender(str(current_app.config["MAIL_FROM"]))
    return outbox.add(
        MailMessage(
            recipient=recipient,
            language=language,
            kind=kind,
            template=template,
            subject=rendered.subject,
            text_body=rendered.text,
            html_body=rendered.html,
            message_id=make_message_id(sender),
            status=MAIL_PENDING,
            attempts=0,
            next_attempt_at=due,
            give_up_at=due + timedelta(seconds=current_app.config["MAIL_RETRY_SECONDS"]),
            created_at=now,
        )
    )


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def check_mail_settings(config: Any) -> None:
    """Fail fast, with one line, on mail settings the worker could not send with."""
    for key in POSITIVE_NUMBERS:
        if not _is_number(config.get(key)) or config[key] <= 0:
            raise SettingsError(f"IDP_{key} must be a positive number")
    for key in POSITIVE_INTEGERS:
        value = config.get(key)
        if not _is_number(value) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"IDP_{key} must be a positive integer")
    if str(config.get("MAIL_SMTP_SECURITY", "")).lower() not in SECURITY_CHOICES:
        raise SettingsError("IDP_MAIL_SMTP_SECURITY must be none, starttls or tls")
    host = str(config.get("MAIL_SMTP_HOST") or "")
    if any(not ch.isprintable() or ch.isspace() for ch in host):
        raise SettingsError("IDP_MAIL_SMTP_HOST must be a host name or address")
    for key in ("MAIL_FROM", "MAIL_REPLY_TO"):
        value = str(config.get(key) or "")
        if not value and key == "MAIL_REPLY_TO":
            continue
        try:
            parse_sender(value)
        except MailError as exc:
            raise SettingsError(
                f'IDP_{key} must be an e-mail address or "Name <address>" ({exc})'
            ) from None
    if config.get("MAIL_SMTP_USER") and str(config["MAIL_SMTP_SECURITY"]).lower() == "none":
        raise SettingsError(
            "IDP_MAIL_SMTP_USER is set with IDP_MAIL_SMTP_SECURITY=none: the password would "
            "cross the network unencrypted; use starttls or tls"
        )


def init_app(app: Flask) -> None:
    # lazy: the commands and the dev mailbox load with the app, not with the models
    from idp.mail import cli, views

    check_mail_settings(app.config)
    cli.init_app(app)
    views.init_app(app)
