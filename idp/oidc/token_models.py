"""Tables of the protocol: codes, grants, refresh tokens, revocations, consents, session clients.

Every secret (authorization codes, refresh tokens) is stored as its SHA-256 hash, never in
clear. Access tokens are signed JWTs (RFC 9068) and are not stored at all; revoking one
records its `jti` (or its grant) in `oauth_revocations` until it would have expired anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.directory.models import User
from idp.extensions import UTCDateTime, db, utcnow
from idp.sessions.models import SsoSession


def client_fk() -> sa.ForeignKey:
    """Rows of a client go with it (RFC 7592 deletion, `idp clients` removal)."""
    return sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE")


class AuthorizationCode(db.Model):
    """RFC 6749 4.1.2: a code, bound to its client, redirect URI, PKCE challenge and session.

    A used code is kept (with `used_at`) until a while after it expires, so that a second
    use is recognised and revokes what the first use issued (RFC 6749 4.1.2).
    """

    __tablename__ = "oauth_authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[str] = mapped_column(sa.String(128), client_fk(), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sso_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sso_sessions.id", ondelete="CASCADE"), index=True
    )
    # The grant (token family) the exchange of this code creates; known before the exchange
    # so that a replayed code can revoke it.
    grant_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The redirect_uri parameter as sent (NULL when the request omitted it).
    redirect_uri: Mapped[str | None] = mapped_column(sa.Text)
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    nonce: Mapped[str | None] = mapped_column(sa.Text)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(sa.String(64), default="")
    amr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The OIDC Core 5.5 claims request, normalised (see idp.oidc.claims.parse_claims_request).
    claims: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    sso_session: Mapped[SsoSession | None] = relationship()

    # ---- Authlib AuthorizationCodeMixin (RFC 6749, OIDC Core)
    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr or [])


class Grant(db.Model):
    """One authorization a user gave a client: the family of every token issued from it.

    Revoking the grant (`revoked_at`, plus a `grant:<gid>` row in oauth_revocations for
    access tokens already out there) ends every refresh and access token of the family.
    """

    __tablename__ = "oauth_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public identifier, carried in access tokens as the `gid` claim.
    gid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[str] = mapped_column(sa.String(128), client_fk(), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The SSO session the grant was made in; NULL once that session row is gone.
    sso_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sso_sessions.id", ondelete="SET NULL"), index=True
    )
    sid: Mapped[str | None] = mapped_column(sa.String(64))
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    # offline_access granted: refresh tokens outlive the SSO session.
    offline: Mapped[bool] = mapped_column(default=False)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(sa.String(64), default="")
    amr: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    claims: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No token of the family outlives this.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))

    user: Mapped[User] = relationship()
    sso_session: Mapped[SsoSession | None] = relationship()


class RefreshToken(db.Model):
    """A refresh token (hash). Rotated on every use: the used one gets `rotated_at`.

    Presenting a rotated token again is a replay (RFC 9700 4.14.2) and revokes the family,
    except within REFRESH_TOKEN_REUSE_GRACE_SECONDS for the immediately previous token.
    """

    __tablename__ = "oauth_refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    grant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("oauth_grants.id", ondelete="CASCADE"), index=True
    )
    # The token this one replaced (NULL for the first of a family).
    parent_id: Mapped[int | None] = mapped_column(index=True)
    client_id: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    grant: Mapped[Grant] = relationship()

    # ---- Authlib TokenMixin-like interface used by the refresh grant and RFC 7009/7662
    def check_client(self, client: Any) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.grant.scope


class Revocation(db.Model):
    """An access token (`jti:<jti>`) or a whole grant (`grant:<gid>`) that no longer counts.

    Kept until every access token it covers has expired; introspection and userinfo look
    keys up here with one indexed read.
    """

    __tablename__ = "oauth_revocations"

    key: Mapped[str] = mapped_column(sa.String(96), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(sa.String(32), default="")


class UsedAssertion(db.Model):
    """`jti` of private_key_jwt client assertions already seen (RFC 7523 3, replay)."""

    __tablename__ = "oauth_used_assertions"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Consent(db.Model):
    """What a user agreed to give a client: scopes, and claims asked for by name (OIDC Core
    5.5) beyond them; asked again when a request needs more."""

    __tablename__ = "oauth_consents"
    __table_args__ = (sa.UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(128), client_fk(), index=True)
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    # Space-separated claim names, like `scope`.
    claims: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
