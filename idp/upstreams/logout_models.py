"""The replay cache of upstream logout tokens (idp.upstreams.backchannel).

One row per accepted logout token's `jti` (hashed with the upstream's name), kept only
until the token could no longer be accepted anyway (its `iat` plus the maximum age and the
clock skew), so the table holds at most what an upstream sends in a few minutes.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import UTCDateTime, db


class UpstreamLogoutToken(db.Model):
    __tablename__ = "upstream_logout_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    upstream: Mapped[str] = mapped_column(sa.String(64), index=True)
    # sha256(upstream NUL jti): the unique index refuses a replay even between two
    # requests racing with the same token.
    jti_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
