"""Accounts created at a first sign-in through an upstream (docs/upstreams.md, "Creating
accounts"): which upstream the person came from, kept even when the link is removed
later, so an administrator can tell these accounts from those the province made."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db, utcnow


class UpstreamAccountOrigin(db.Model):
    __tablename__ = "upstream_account_origins"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    upstream: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
