"""Storage of brokered sign-in: links, upstream sessions, pending links. Adds to the
current transaction; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from idp import sealing
from idp.directory.models import User
from idp.extensions import db, utcnow
from idp.sessions.models import SsoSession
from idp.upstreams.flow import VerifiedIdentity
from idp.upstreams.models import UpstreamLink, UpstreamPendingLink, UpstreamSession

ID_TOKEN_SALT = b"idp-upstream-id-tokens"
PENDING_SALT = b"idp-upstream-pending-links"


def _hash(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


# ---------------------------------------------------------------- links


def find_link(upstream: str, link_key: str) -> UpstreamLink | None:
    return db.session.execute(
        sa.select(UpstreamLink).where(
            UpstreamLink.upstream == upstream, UpstreamLink.link_key == link_key
        )
    ).scalar_one_or_none()


def links_of(user_id: int) -> list[UpstreamLink]:
    return list(
        db.session.execute(
            sa.select(UpstreamLink)
            .where(UpstreamLink.user_id == user_id)
            .order_by(UpstreamLink.upstream, UpstreamLink.id)
        ).scalars()
    )


def add_link(
    user: User, upstream: str, link_key: str, *, linked_by: str, now: datetime | None = None
) -> UpstreamLink:
    """Link `user` to the upstream identity with this link key (the caller checked that
    no other account holds it: the unique constraint refuses a second)."""
    link = UpstreamLink(
        upstream=upstream,
        link_key=link_key,
        user_id=user.id,
        linked_by=linked_by,
        created_at=now or utcnow(),
    )
    db.session.add(link)
    db.session.flush()
    return link


# ---------------------------------------------------------------- upstream sessions


def seal_id_token(config: Mapping[str, Any], upstream: str, sub: str, id_token: str) -> str:
    return sealing.seal(
        sealing.key_encryption_key(config),
        id_token.encode(),
        f"{upstream}\x00{sub}".encode(),
        salt=ID_TOKEN_SALT,
        info=b"id-token-hint",
    )


def open_id_token(config: Mapping[str, Any], row: UpstreamSession) -> str | None:
    """The upstream's ID token of this session (the id_token_hint of its logout), or None
    when there is none or it no longer opens (the key-encryption key changed)."""
    if not row.id_token_sealed:
        return None
    try:
        return sealing.unseal(
            sealing.key_encryption_key(config),
            row.id_token_sealed,
            f"{row.upstream}\x00{row.sub}".encode(),
            salt=ID_TOKEN_SALT,
            info=b"id-token-hint",
        ).decode()
    except sealing.UnsealError:
        return None


def record_upstream_session(
    sso: SsoSession, identity: VerifiedIdentity, config: Mapping[str, Any]
) -> UpstreamSession:
    """What the upstream said about this SSO session; replaces what an earlier upstream
    sign-in of the same session recorded (one row per session)."""
    row = db.session.execute(
        sa.select(UpstreamSession).where(UpstreamSession.sso_session_id == sso.id)
    ).scalar_one_or_none()
    if row is None:
        row = UpstreamSession(sso_session_id=sso.id)
        db.session.add(row)
    row.upstream = identity.upstream
    row.sub = identity.sub
    row.sid = identity.sid
    row.id_token_sealed = (
        seal_id_token(config, identity.upstream, identity.sub, identity.id_token)
        if identity.id_token
        else None
    )
    row.acr = identity.acr
    row.loas = list(identity.loas)
    row.amr = list(identity.amr)
    row.level = identity.level
    row.created_at = utcnow()
    db.session.flush()
    return row


def upstream_session_of(sso_session_id: int) -> UpstreamSession | None:
    return db.session.execute(
        sa.select(UpstreamSession).where(UpstreamSession.sso_session_id == sso_session_id)
    ).scalar_one_or_none()


def upstream_sessions_of(
    upstream: str, *, sub: str | None = None, sid: str | None = None
) -> list[UpstreamSession]:
    """The upstream sessions an upstream's back-channel logout token names (OIDC
    Back-Channel Logout 2.4: by `sid`, by `sub`, or both), live SSO sessions only."""
    if sub is None and sid is None:
        return []
    query = (
        sa.select(UpstreamSession)
        .join(SsoSession, SsoSession.id == UpstreamSession.sso_session_id)
        .where(UpstreamSession.upstream == upstream, SsoSession.ended_at.is_(None))
    )
    if sub is not None:
        query = query.where(UpstreamSession.sub == sub)
    if sid is not None:
        query = query.where(UpstreamSession.sid == sid)
    return list(db.session.execute(query).scalars())


# ---------------------------------------------------------------- pending links


def begin_pending_link(
    identity: VerifiedIdentity, config: Mapping[str, Any], now: datetime | None = None
) -> str:
    """Keep a verified identity without a link for UPSTREAM_LINK_SECONDS; the browser's
    handle (only its hash is stored; the identity is sealed to it)."""
    now = now or utcnow()
    handle = secrets.token_urlsafe(32)
    handle_hash = _hash(handle)
    sealed = sealing.seal(
        sealing.key_encryption_key(config),
        identity.as_json().encode(),
        handle_hash.encode(),
        salt=PENDING_SALT,
        info=b"verified-identity",
    )
    db.session.add(
        UpstreamPendingLink(
            handle_hash=handle_hash,
            upstream=identity.upstream,
            identity_sealed=sealed,
            created_at=now,
            expires_at=now + timedelta(seconds=int(config["UPSTREAM_LINK_SECONDS"])),
        )
    )
    return handle


def find_pending_link(
    handle: str | None, config: Mapping[str, Any], now: datetime | None = None
) -> VerifiedIdentity | None:
    """The verified identity waiting behind this handle, or None (unknown, expired)."""
    if not handle or len(handle) > 128:
        return None
    handle_hash = _hash(handle)
    row = db.session.execute(
        sa.select(UpstreamPendingLink).where(UpstreamPendingLink.handle_hash == handle_hash)
    ).scalar_one_or_none()
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    try:
        plaintext = sealing.unseal(
            sealing.key_encryption_key(config),
            row.identity_sealed,
            handle_hash.encode(),
            salt=PENDING_SALT,
            info=b"verified-identity",
        )
    except sealing.UnsealError:
        return None
    return VerifiedIdentity.from_json(plaintext)


def end_pending_link(handle: str | None) -> None:
    """The pending link was used (or abandoned): it cannot be used again."""
    if handle:
        db.session.execute(
            sa.delete(UpstreamPendingLink).where(UpstreamPendingLink.handle_hash == _hash(handle))
        )


def remove_expired_pending_links(now: datetime | None = None) -> int:
    result = db.session.execute(
        sa.delete(UpstreamPendingLink).where(UpstreamPendingLink.expires_at <= (now or utcnow()))
    )
    return result.rowcount or 0
