"""How claimed messages leave: through the SMTP server of the settings, or, in development
without one, into the dev mailbox (the rows are kept and shown at /dev/mail).

One SMTP connection per batch. The server's reply decides each message's fate: 2xx sent;
4xx (and a connection that fails or drops) tried again later; 5xx refused for good. A
message that cannot be built (which would take a tampered row) fails at once.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Any

from idp.mail.compose import MailError, build_message, parse_sender
from idp.mail.models import TRANSPORT_DEV_MAILBOX, TRANSPORT_SMTP
from idp.mail.outbox import Claimed, Result

SECURITY_CHOICES = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str
    password: str
    ca_file: str
    timeout: float
    sender: Address
    reply_to: Address | None

    @classmethod
    def from_config(cls, config: Any) -> SmtpSettings:
        reply_to = str(config.get("MAIL_REPLY_TO") or "")
        return cls(
            host=str(config.get("MAIL_SMTP_HOST") or ""),
            port=int(config["MAIL_SMTP_PORT"]),
            security=str(config["MAIL_SMTP_SECURITY"]).lower(),
            user=str(config.get("MAIL_SMTP_USER") or ""),
            password=str(config.get("MAIL_SMTP_PASSWORD") or ""),
            ca_file=str(config.get("MAIL_SMTP_CA_FILE") or ""),
            timeout=float(config["MAIL_SMTP_TIMEOUT_SECONDS"]),
            sender=parse_sender(str(config["MAIL_FROM"])),
            reply_to=parse_sender(reply_to) if reply_to else None,
        )


def transport_name(config: Any) -> str | None:
    """ "smtp", "dev-mailbox", or None: in production without an SMTP server."""
    if config.get("MAIL_SMTP_HOST"):
        return TRANSPORT_SMTP
    if config["ENV"] != "production":
        return TRANSPORT_DEV_MAILBOX
    return None


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file or None)


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An open, greeted (and, if configured, encrypted and signed-in) SMTP connection."""
    if settings.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=_tls_context(settings)
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=_tls_context(settings))
            smtp.ehlo()
        if settings.user:
            if settings.security == "none":
                raise smtplib.SMTPException("refusing to send the SMTP password unencrypted")
            smtp.login(settings.user, settings.password)
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}"


def _send_one(smtp: smtplib.SMTP, row: Claimed, settings: SmtpSettings) -> Result:
    message = build_message(row.envelope, settings.sender, settings.reply_to)
    try:
        smtp.send_message(
            message, from_addr=settings.sender.addr_spec, to_addrs=[row.envelope.recipient]
        )
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return Result(row, ok=False, permanent=code >= 500, error=_reply_text(code, reply))
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused
        error = _reply_text(exc.smtp_code, exc.smtp_error)
        return Result(row, ok=False, permanent=exc.smtp_code >= 500, error=error)
    return Result(row, ok=True, transport=TRANSPORT_SMTP)


def send_smtp(rows: list[Claimed], settings: SmtpSettings) -> list[Result]:
    """Send the rows over one connection; every row gets an outcome."""
    try:
        smtp = connect(settings)
    except (smtplib.SMTPException, OSError) as exc:
        return [Result(row, ok=False, error=_describe(exc)) for row in rows]
    results: list[Result] = []
    try:
        for row in rows:
            try:
                # After a refusal smtplib resets the transaction (RSET) for the next one.
                results.append(_send_one(smtp, row, settings))
            except MailError as exc:
                results.append(Result(row, ok=False, permanent=True, error=str(exc)))
            except (smtplib.SMTPException, OSError) as exc:
                # The connection is gone: this row and the rest wait for the next attempt.
                error = _describe(exc)
                results += [Result(r, ok=False, error=error) for r in rows[len(results) :]]
                break
    finally:
        _close(smtp)
    return results


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_text(exc.smtp_code, exc.smtp_error)
    return f"{type(exc).__name__}: {exc}"


def keep_in_dev_mailbox(rows: list[Claimed], settings: SmtpSettings) -> list[Result]:
    """Development without an SMTP server: build each message (so that one that could not be
    sent fails here too) and mark it sent; its row is the mailbox."""
    results = []
    for row in rows:
        try:
            build_message(row.envelope, settings.sender, settings.reply_to)
        except MailError as exc:
            results.append(Result(row, ok=False, permanent=True, error=str(exc)))
            continue
        results.append(Result(row, ok=True, transport=TRANSPORT_DEV_MAILBOX))
    return results
