"""Tables of second factors and of sign-ins waiting for one."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db, utcnow


class TotpFactor(db.Model):
    """A person's TOTP authenticator. Until `confirmed_at` it is an enrolment under way
    (a first code confirms it); one row per person."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # AES-GCM under the key-encryption key, bound to the account (idp.sealing).
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time step of the last code accepted: a code is never accepted twice, nor an
    # older one after a newer (a conditional UPDATE, so also not by two requests at once).
    last_used_step: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(db.Model):
    """A single-use recovery code, stored as a hash; issued ten at a time."""

    __tablename__ = "recovery_codes"
    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingSignIn(db.Model):
    """A sign-in whose password was right (or a session stepping up) waiting for a second
    factor. Nothing the protocol can use: no SSO session exists until it is finished.

    The browser holds a random handle in a cookie; only its hash is stored. It lives
    FACTOR_PENDING_SECONDS, allows FACTOR_MAX_ATTEMPTS wrong codes, and is finished once.
    """

    __tablename__ = "pending_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The SSO session stepping up (its `sid`), or None for a new sign-in.
    sid: Mapped[str | None] = mapped_column(sa.String(64))
    # Methods already performed, with their times (epoch seconds): {"pwd": 1767000000}.
    methods: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    remember: Mapped[bool] = mapped_column(default=False)
    # Where to go once finished (a local path, checked by the page).
    next_url: Mapped[str] = mapped_column(sa.String(2048), default="")
    # The person has no second factor and must enrol one before the session is issued.
    enrol: Mapped[bool] = mapped_column(default=False)
    failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
