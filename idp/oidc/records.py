"""Read-only views of rows on the hot paths: codes, refresh tokens, grants, users, sessions.

The token and userinfo endpoints read a code or a refresh token with its grant, user and SSO
session thousands of times a second. Loading them as ORM objects costs several times the
query itself, so idp.oidc.store reads these with one Core statement and hands out these
plain records instead. They carry the attributes and the methods the protocol code uses,
borrowed from the models themselves, so both behave the same; they are never written back
(writes are Core statements of idp.oidc.store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from idp.directory.models import User
from idp.oidc.token_models import AuthorizationCode, Grant, RefreshToken
from idp.sessions.models import SsoSession


@dataclass(slots=True)
class UserRecord:
    """The user columns that claims are made of (idp.oidc.claims.user_claims)."""

    id: int
    sub: str
    email: str
    family_name: str
    middle_name: str
    given_name: str
    phone_number: str | None
    title: str | None
    unit_id: int | None
    roles: list[str]
    status: str
    locale: str | None
    updated_at: datetime | None

    name = User.name
    is_active = User.is_active


@dataclass(slots=True)
class SessionRecord:
    """An SSO session as the authorization endpoint and idp.sessions.store.is_live read it."""

    id: int
    sid: str
    user_id: int
    auth_time: datetime
    acr: str
    amr: list[str]
    auth_times: dict[str, int] | None
    ended_at: datetime | None
    expires_at: datetime
    last_seen_at: datetime
    remember: bool
    user: UserRecord | None


@dataclass(slots=True)
class GrantRecord:
    id: int
    gid: str
    client_id: str
    user_id: int
    sso_session_id: int | None
    sid: str | None
    scope: str
    offline: bool
    auth_time: datetime
    acr: str
    amr: list[str]
    claims: dict[str, Any] | None
    expires_at: datetime
    revoked_at: datetime | None
    user: UserRecord
    sso_session: SessionRecord | None


@dataclass(slots=True)
class RefreshTokenRecord:
    id: int
    grant_id: int
    client_id: str
    created_at: datetime
    expires_at: datetime
    rotated_at: datetime | None
    grant: GrantRecord

    check_client = RefreshToken.check_client
    get_scope = RefreshToken.get_scope


@dataclass(slots=True)
class AuthorizationCodeRecord:
    id: int
    client_id: str
    user_id: int
    sso_session_id: int | None
    grant_id: str
    redirect_uri: str | None
    scope: str
    nonce: str | None
    auth_time: datetime
    acr: str
    amr: list[str]
    claims: dict[str, Any] | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    used_at: datetime | None
    user: UserRecord
    sso_session: SessionRecord | None

    # Authlib's AuthorizationCodeMixin, as the model implements it.
    get_redirect_uri = AuthorizationCode.get_redirect_uri
    get_scope = AuthorizationCode.get_scope
    get_nonce = AuthorizationCode.get_nonce
    get_auth_time = AuthorizationCode.get_auth_time
    get_acr = AuthorizationCode.get_acr
    get_amr = AuthorizationCode.get_amr


# ---------------------------------------------------------------- columns and builders


def _columns(table: sa.Table, names: tuple[str, ...], prefix: str) -> list[sa.Label]:
    return [table.c[name].label(f"{prefix}{name}") for name in names]


USER_FIELDS = tuple(UserRecord.__dataclass_fields__)
SESSION_FIELDS = tuple(f for f in SessionRecord.__dataclass_fields__ if f != "user")
GRANT_FIELDS = tuple(
    f for f in GrantRecord.__dataclass_fields__ if f not in ("user", "sso_session")
)
REFRESH_FIELDS = tuple(f for f in RefreshTokenRecord.__dataclass_fields__ if f != "grant")
CODE_FIELDS = tuple(
    f for f in AuthorizationCodeRecord.__dataclass_fields__ if f not in ("user", "sso_session")
)

users = User.__table__
sessions = SsoSession.__table__
grants = Grant.__table__
refresh_tokens = RefreshToken.__table__
codes = AuthorizationCode.__table__

USER_COLUMNS = _columns(users, USER_FIELDS, "u_")
SESSION_COLUMNS = _columns(sessions, SESSION_FIELDS, "s_")


def _pick(row: Any, names: tuple[str, ...], prefix: str) -> dict[str, Any]:
    mapping = row._mapping
    return {name: mapping[f"{prefix}{name}"] for name in names}


def user_from(row: Any) -> UserRecord:
    values = _pick(row, USER_FIELDS, "u_")
    values["roles"] = list(values["roles"] or [])
    return UserRecord(**values)


def session_from(row: Any, user: UserRecord) -> SessionRecord | None:
    """The SSO session of a code or grant; its person is the code's or grant's (the query
    joins one user). A session of anyone else would have no person, so is never live."""
    if row._mapping["s_id"] is None:
        return None
    values = _pick(row, SESSION_FIELDS, "s_")
    values["amr"] = list(values["amr"] or [])
    owner = user if values["user_id"] == user.id else None
    return SessionRecord(**values, user=owner)


def refresh_token_query(by: str = "token_hash") -> sa.Select:
    """A refresh token by hash (or by `id`), with its grant, the grant's user and SSO
    session."""
    key = refresh_tokens.c.id if by == "id" else refresh_tokens.c.token_hash
    return (
        sa.select(
            *_columns(refresh_tokens, REFRESH_FIELDS, "r_"),
            *_columns(grants, GRANT_FIELDS, "g_"),
            *USER_COLUMNS,
            *SESSION_COLUMNS,
        )
        .select_from(
            refresh_tokens.join(grants, grants.c.id == refresh_tokens.c.grant_id)
            .join(users, users.c.id == grants.c.user_id)
            .outerjoin(sessions, sessions.c.id == grants.c.sso_session_id)
        )
        .where(key == sa.bindparam("row_id" if by == "id" else "token_hash"))
    )


def refresh_token_from(row: Any) -> RefreshTokenRecord:
    user = user_from(row)
    grant_values = _pick(row, GRANT_FIELDS, "g_")
    grant_values["amr"] = list(grant_values["amr"] or [])
    grant = GrantRecord(**grant_values, user=user, sso_session=session_from(row, user))
    return RefreshTokenRecord(**_pick(row, REFRESH_FIELDS, "r_"), grant=grant)


def code_query() -> sa.Select:
    """An authorization code by hash, with its user and SSO session."""
    return (
        sa.select(*_columns(codes, CODE_FIELDS, "c_"), *USER_COLUMNS, *SESSION_COLUMNS)
        .select_from(
            codes.join(users, users.c.id == codes.c.user_id).outerjoin(
                sessions, sessions.c.id == codes.c.sso_session_id
            )
        )
        .where(codes.c.code_hash == sa.bindparam("code_hash"))
    )


def code_from(row: Any) -> AuthorizationCodeRecord:
    user = user_from(row)
    values = _pick(row, CODE_FIELDS, "c_")
    values["amr"] = list(values["amr"] or [])
    return AuthorizationCodeRecord(**values, user=user, sso_session=session_from(row, user))


def session_query() -> sa.Select:
    """An SSO session by the hash of its cookie handle, with its person."""
    return (
        sa.select(*SESSION_COLUMNS, *USER_COLUMNS)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(sessions.c.handle_hash == sa.bindparam("handle_hash"))
    )


def session_with_user_from(row: Any) -> SessionRecord:
    user = user_from(row)
    record = session_from(row, user)
    assert record is not None
    return record
