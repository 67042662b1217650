"""The mail outbox: one row per message, rendered when queued and sent by `idp worker`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db, utcnow

MAIL_PENDING = "pending"
MAIL_SENT = "sent"
MAIL_FAILED = "failed"
MAIL_GAVE_UP = "gave_up"
MAIL_STATUSES = [MAIL_PENDING, MAIL_SENT, MAIL_FAILED, MAIL_GAVE_UP]

KIND_ACTIVATION = "activation"
KIND_PASSWORD_RESET = "password_reset"
KIND_NOTICE = "notice"
KIND_TEST = "test"
MAIL_KINDS = [KIND_ACTIVATION, KIND_PASSWORD_RESET, KIND_NOTICE, KIND_TEST]

# What carried a sent message: an SMTP server, or the development mailbox (kept, not sent).
TRANSPORT_SMTP = "smtp"
TRANSPORT_DEV_MAILBOX = "dev-mailbox"


class MailMessage(db.Model):
    """One e-mail message to one recipient, rendered in its language when queued.

    pending: waiting for its (next) attempt at `next_attempt_at` (also while the
    recipient's hourly allowance is used up); sent: the SMTP server took it (or, in
    development without an SMTP server, the dev mailbox kept it); failed: the server
    refused it for good (5xx); gave_up: still refused or unreachable at `give_up_at`.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        sa.Index("ix_mail_outbox_due", "status", "next_attempt_at"),
        # The per-recipient allowance counts the messages sent in the last hour.
        sa.Index("ix_mail_outbox_recipient_sent", "recipient", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One address (lower case, checked by idp.mail.compose.clean_address).
    recipient: Mapped[str] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(8))
    kind: Mapped[str] = mapped_column(sa.String(32))
    template: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.String(255))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    # Made when queued, so that every attempt sends the same message.
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=MAIL_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A worker that claimed the row owns it until lease_until (see idp.mail.outbox.claim).
    claimed_by: Mapped[str | None] = mapped_column(sa.String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The SMTP reply (or connection error) of the last failed attempt, one short line.
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    transport: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
