"""Rendering a message in its language, and building the MIME message that is sent.

Nothing a person typed reaches a header as it was typed: the recipient must be one plain
address (`clean_address`), the subject is made one line of printable characters
(`one_line`), the sender and Reply-To come from settings checked at start, and the
Message-ID is ours. The standard library then encodes non-ASCII headers (RFC 2047) and
refuses any header value with a line break.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

from flask import current_app
from flask_babel import force_locale

SUBJECT_MAX_LENGTH = 200
# A dot-atom local part and a host name: no quoted strings, comments, routes or spaces, so
# that nothing in an address can end a header or an SMTP command.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
MESSAGE_ID_RE = re.compile(rf"<[0-9a-f]{{32}}@{_LABEL}(?:\.{_LABEL})*>")


class MailError(ValueError):
    """A message cannot be queued or built as asked (an unusable address or template)."""


def clean_address(value: Any) -> str:
    """One plain e-mail address, lower case; MailError for anything else."""
    if not isinstance(value, str):
        raise MailError("the recipient must be an e-mail address")
    address = value.strip().lower()
    if (
        len(address) > 254
        or not ADDRESS_RE.fullmatch(address)
        or len(address.partition("@")[0]) > 64
    ):
        raise MailError(f"not a usable e-mail address: {value!r}")
    return address


def parse_sender(value: str) -> Address:
    """MAIL_FROM or MAIL_REPLY_TO ("address" or "Name <address>") as a header address."""
    if any(not ch.isprintable() for ch in value):
        raise MailError("control characters or line breaks")
    parsed = getaddresses([value])
    if len(parsed) != 1:
        raise MailError(f"not one address: {value!r}")
    name, address = parsed[0]
    if not address:
        raise MailError(f"not an address: {value!r}")
    local, _, domain = clean_address(address).partition("@")
    return Address(display_name=one_line(name), username=local, domain=domain)


def one_line(text: str, limit: int = SUBJECT_MAX_LENGTH) -> str:
    """Printable characters on one line, runs of spaces as one: fit for a header."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


def make_message_id(sender: Address) -> str:
    """<random@sender's domain>: unique without telling anything about the host."""
    return f"<{secrets.token_hex(16)}@{sender.domain}>"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any], language: str) -> Rendered:
    """Render idp/templates/mail/<template>.txt and .html in `language`.

    The text template sets the subject at its top level (`{% set subject = ... %}`); both
    templates see it, with the context and the page globals (org_name(), site_name()).
    """
    if not re.fullmatch(r"[a-z0-9_]+", template):
        raise MailError(f"not a mail template name: {template!r}")
    env = current_app.jinja_env
    with force_locale(language):
        text_module = env.get_template(f"mail/{template}.txt").make_module(
            {**context, "language": language}
        )
        subject = one_line(str(getattr(text_module, "subject", "")))
        if not subject:
            raise MailError(f"mail/{template}.txt sets no subject")
        html = env.get_template(f"mail/{template}.html").render(
            {**context, "language": language, "subject": subject}
        )
    return Rendered(subject=subject, text=str(text_module).strip() + "\n", html=html)


@dataclass(frozen=True)
class Envelope:
    """What a stored row contributes to its message."""

    recipient: str
    language: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    created_at: datetime


def build_message(row: Envelope, sender: Address, reply_to: Address | None) -> EmailMessage:
    """multipart/alternative: the text first, then the HTML (the part mail readers prefer)."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    local, _, domain = clean_address(row.recipient).partition("@")
    message["To"] = Address(username=local, domain=domain)
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Subject"] = one_line(row.subject)
    message["Date"] = format_datetime(row.created_at)
    if not MESSAGE_ID_RE.fullmatch(row.message_id):
        raise MailError("not a Message-ID of ours")
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body, charset="utf-8")
    message.add_alternative(row.html_body, subtype="html", charset="utf-8")
    # After the parts: setting the content clears every Content-* header.
    message["Content-Language"] = row.language
    return message
