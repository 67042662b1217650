"""The mail the provider queued (the `mail_outbox` rows), and the links in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

ISSUER = "http://idp.test"
LINK = re.compile(r"https?://[^\s\"'<>]+/(?:activate|password/reset)/[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Queued:
    recipient: str
    kind: str
    template: str
    language: str
    subject: str
    text: str
    html: str


def queued(app, *, to: str | None = None, template: str | None = None) -> list[Queued]:
    """Messages in the outbox, oldest first, optionally only to `to` or of `template`."""
    from idp.extensions import db
    from idp.mail.models import MailMessage

    with app.app_context():
        query = sa.select(MailMessage).order_by(MailMessage.id)
        if to is not None:
            query = query.where(MailMessage.recipient == to.lower())
        if template is not None:
            query = query.where(MailMessage.template == template)
        return [
            Queued(m.recipient, m.kind, m.template, m.language, m.subject, m.text_body, m.html_body)
            for m in db.session.execute(query).scalars()
        ]


def link_in(text: str) -> str:
    """The single password link of a message's text."""
    links = set(LINK.findall(text))
    assert len(links) == 1, f"expected one link in: {text[:400]}"
    return links.pop()


def path_of(link: str) -> str:
    return urlsplit(link).path


def last_link(app, to: str, template: str = "password_reset") -> str:
    """The path of the link in the latest `template` message to `to`."""
    messages = queued(app, to=to, template=template)
    assert messages, f"no {template} mail to {to}"
    return path_of(link_in(messages[-1].text))
