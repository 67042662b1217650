"""Signing keys: published next, signing current, published retired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db, utcnow

KEY_NEXT = "next"
KEY_CURRENT = "current"
KEY_RETIRED = "retired"


class SigningKey(db.Model):
    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    alg: Mapped[str] = mapped_column(sa.String(16), index=True)
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # The private key as PKCS#8 PEM, encrypted with AES-256-GCM (see idp.keys.crypto).
    private_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a retired key leaves the JWKS: every token it signed has expired by then.
    remove_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
