"""Passkeys (WebAuthn credentials) of people, and the challenges already answered."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.directory.models import User
from idp.extensions import UTCDateTime, db, utcnow

# A credential id is at most 1023 bytes (WebAuthn Level 3, 5.8.3), 1364 in base64url.
CREDENTIAL_ID_MAX_LENGTH = 1364
NAME_MAX_LENGTH = 64


class Passkey(db.Model):
    """One WebAuthn credential of one person; a person may have several."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # base64url without padding, as browsers show it; unique across every person.
    credential_id: Mapped[str] = mapped_column(sa.String(CREDENTIAL_ID_MAX_LENGTH), unique=True)
    # The COSE public key as the authenticator gave it.
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # The authenticator's signature counter at its last use (0: it keeps none).
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Hints from the browser at registration ("internal", "usb", "hybrid", ...).
    transports: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX_LENGTH))
    # The authenticator model (all zeros when the authenticator does not say).
    aaguid: Mapped[str] = mapped_column(sa.String(36), default="")
    # BE: the key may be copied to other devices (a synced passkey); BS: it is.
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    backup_state: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class PasskeyUsedChallenge(db.Model):
    """Challenges answered by a verified ceremony, kept until they expire: the same
    signed response is never accepted twice (idp.passkeys.service)."""

    __tablename__ = "passkey_used_challenges"

    # SHA-256 of the challenge, hex.
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
