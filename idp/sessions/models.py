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
    amr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    acr: Mapped[str] = mapped_column(sa.String(64), default="")
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-in counters per account and per client address (no permanent lock-out)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
