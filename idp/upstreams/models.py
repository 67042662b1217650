"""Tables of brokered sign-in (docs/upstreams.md): who is linked to which upstream
identity, what an upstream said about each SSO session it started, and verified upstream
identities waiting for the person to link an account."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.directory.models import User
from idp.extensions import UTCDateTime, db, utcnow
from idp.sessions.models import SsoSession

# How a link was made (UpstreamLink.linked_by): the link key was known beforehand (an
# administrator or an import wrote it), the person proved the local account, the upstream
# is trusted for verified e-mail and the person confirmed, or the account was created at
# the first sign-in.
LINKED_BY_ADMIN = "admin"
LINKED_BY_PROOF = "proof"
LINKED_BY_EMAIL = "email"
LINKED_BY_CREATION = "created"


class UpstreamLink(db.Model):
    """One local account linked to one identity at an upstream provider.

    `link_key` is the value of the upstream's link claim (`sub`, or e.g. `SoDinhDanh`), or
    its keyed hash when the upstream's `link_hashed` is on (the default: a personal
    identification number is never stored in clear; idp.upstreams.config.link_key_for).
    """

    __tablename__ = "upstream_links"
    __table_args__ = (sa.UniqueConstraint("upstream", "link_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The upstream's name in the settings ([UPSTREAMS.<name>]).
    upstream: Mapped[str] = mapped_column(sa.String(64))
    link_key: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linked_by: Mapped[str] = mapped_column(sa.String(16), default=LINKED_BY_ADMIN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UpstreamSession(db.Model):
    """What an upstream said when it started (or re-authenticated) one of our SSO sessions:
    its `sub` and `sid` (for its back-channel logout), its ID token (the id_token_hint of
    its logout), its `acr`/`loAs` and `amr`, and the level we mapped them to."""

    __tablename__ = "upstream_sessions"
    __table_args__ = (
        sa.Index("ix_upstream_sessions_upstream_sub", "upstream", "sub"),
        sa.Index("ix_upstream_sessions_upstream_sid", "upstream", "sid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sso_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sso_sessions.id", ondelete="CASCADE"), unique=True
    )
    upstream: Mapped[str] = mapped_column(sa.String(64))
    sub: Mapped[str] = mapped_column(sa.String(255))
    sid: Mapped[str | None] = mapped_column(sa.String(255))
    # The upstream's ID token, AES-GCM sealed to this upstream and sub (idp.sealing;
    # idp.upstreams.store.seal_id_token): read back only as id_token_hint at its logout.
    id_token_sealed: Mapped[str | None] = mapped_column(sa.Text)
    # The upstream's own words: `acr` of the ID token, `loAs` (or the configured level
    # claim's values) and `amr`.
    acr: Mapped[str | None] = mapped_column(sa.String(255))
    loas: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    amr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Our level the settings' table gave (urn:hg:loa:N): the session's acr never exceeds it.
    level: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sso_session: Mapped[SsoSession] = relationship()


class UpstreamPendingLink(db.Model):
    """A verified upstream identity with no linked account yet, waiting for the person to
    link one (prove a local account, confirm a trusted e-mail) or for an account to be
    created: never a session by itself.

    The browser holds a random handle in a cookie; only its hash is stored. The identity
    (claims, ID token) is sealed. Rows live UPSTREAM_LINK_SECONDS and are removed once
    used or by `idp cleanup`; each needs a completed upstream sign-in, so nobody can fill
    the table without authenticating upstream.
    """

    __tablename__ = "upstream_pending_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    upstream: Mapped[str] = mapped_column(sa.String(64))
    # idp.upstreams.flow.VerifiedIdentity as JSON, sealed to handle_hash.
    identity_sealed: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
