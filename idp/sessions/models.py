"""Server-side single sign-on sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.directory.models import User
from idp.extensions import UTCDateTime, db, utcnow


class SsoSession(db.Model):
    """One signed-in browser. The cookie holds a random handle; only its hash is stored."""

    __tablename__ = "sso_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The public session id carried in ID tokens and logout tokens (`sid`).
    sid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    handle_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    # What was performed in this session (idp.assurance): each method with its time, and
    # the `amr` and `acr` computed from them, never more.
    amr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    acr: Mapped[str] = mapped_column(sa.String(64), default="")
    # {method: epoch seconds} (`pwd`, `otp`, ...): max_age is checked per level against
    # these; None for a session started before they were recorded (auth_time stands in).
    auth_times: Mapped[dict | None] = mapped_column(sa.JSON)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    # Indexed: `idp cleanup` removes sessions some time after they ended.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-in counters per account, client address and trusted browser
    (idp.interaction.throttle; no permanent lock-out)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    # Consecutive failures since window_start; forgotten a while after the last one.
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Attempts refused, unchecked, since the last failure: counted here, not one row each.
    refused: Mapped[int] = mapped_column(default=0, server_default="0")


# Status of a back-channel logout delivery (see idp.sessions.outbox).
DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"
DELIVERY_GAVE_UP = "gave_up"
DELIVERY_STATUSES = (DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_GAVE_UP)


class LogoutDelivery(db.Model):
    """One back-channel logout notice owed to one relying party for one ended session.

    The outbox: rows are written in the transaction that ends the session and delivered
    afterwards by `idp worker` (or a background thread right away), retried with a growing
    delay until `give_up_at`. The logout token itself is minted at each attempt from `sub`
    and `sid`, so it is always fresh and nothing secret is stored.

    pending: waiting for its (next) attempt at `next_attempt_at`; delivered: the relying
    party answered 200 or 204; failed: retrying cannot help (the client no longer has a
    back-channel URI, or its address may not be called); gave_up: still failing when the
    retry period ended.
    """

    __tablename__ = "logout_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("sid", "client_id"),
        sa.Index("ix_logout_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(
        sa.String(128), sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    sub: Mapped[str] = mapped_column(sa.String(64), index=True)
    sid: Mapped[str] = mapped_column(sa.String(64))
    # Why the session ended (SsoSession.end_reason).
    reason: Mapped[str] = mapped_column(sa.String(32), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A worker that claimed the row owns it until lease_until (see outbox.claim).
    claimed_by: Mapped[str | None] = mapped_column(sa.String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # HTTP status and a short reason of the last attempt; never a token or a secret.
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    # Indexed: listings are newest first, and cleanup removes old rows.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SessionClient(db.Model):
    """A client that received an ID token within an SSO session: whom logout must tell."""

    __tablename__ = "sso_session_clients"
    __table_args__ = (sa.UniqueConstraint("sso_session_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sso_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sso_sessions.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(
        sa.String(128), sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
