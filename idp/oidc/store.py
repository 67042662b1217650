"""Storage of the protocol: the only module of idp.oidc that touches db.session.

Every function adds to the current transaction; the view that called it commits once.
Secrets are looked up by their SHA-256 hash (idp.security.hash_secret); clients are read
through idp.clients.store.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from idp.clients import store as clients_store
from idp.directory.models import USER_ACTIVE, Unit, User
from idp.extensions import db, insert_for, reading, utcnow
from idp.oidc import records
from idp.oidc.records import (
    AuthorizationCodeRecord,
    RefreshTokenRecord,
    SessionRecord,
    UserRecord,
)
from idp.oidc.token_models import (
    AuthorizationCode,
    Consent,
    Grant,
    RefreshToken,
    Revocation,
    UsedAssertion,
)
from idp.security import hash_secret
from idp.sessions.models import SessionClient, SsoSession
from idp.sessions.store import hash_handle, is_live, touch

# A used or expired code is kept this long after it expires, so that its replay is still
# recognised (and revokes what it issued) before cleanup removes it.
CODE_KEEP_AFTER_EXPIRY_SECONDS = 600
UNIT_DEPTH_MAX = 32


def new_secret() -> str:
    """A fresh code or refresh token: 256 bits from the OS, URL-safe."""
    return secrets.token_urlsafe(32)


def _insert(model: Any):
    return insert_for(db.session.get_bind().dialect.name, model)


def _execute(statement: Any, params: dict[str, Any]) -> sa.CursorResult:
    """A Core statement in the request's transaction, on the session's connection (the
    session's own execute adds ORM bookkeeping that these statements do not need)."""
    return db.session.connection().execute(statement, params)


# ---------------------------------------------------------------- users


def load_unit_path(unit_id: int | None) -> list[dict[str, str]]:
    """The unit and its ancestors, root first, as [{"code", "name"}], in one query."""
    if unit_id is None:
        return []
    units = Unit.__table__
    tree = (
        sa.select(
            units.c.id, units.c.parent_id, units.c.code, units.c.name, sa.literal(0).label("depth")
        )
        .where(units.c.id == unit_id)
        .cte("unit_path", recursive=True)
    )
    parent = units.alias("parent")
    tree = tree.union_all(
        sa.select(
            parent.c.id, parent.c.parent_id, parent.c.code, parent.c.name, tree.c.depth + 1
        ).where(parent.c.id == tree.c.parent_id, tree.c.depth < UNIT_DEPTH_MAX)
    )
    rows = db.session.execute(sa.select(tree.c.code, tree.c.name).order_by(tree.c.depth.desc()))
    return [{"code": code, "name": name} for code, name in rows]


def find_user_by_sub(sub: str) -> User | None:
    return db.session.execute(
        sa.select(User).where(User.sub == sub).options(joinedload(User.unit))
    ).scalar_one_or_none()


# ---------------------------------------------------------------- authorization codes


# Inserts on the hot paths go to the tables with prebuilt statements: the ORM's insert
# machinery costs several times more than the statement itself.
_INSERT_CODE = sa.insert(AuthorizationCode.__table__)
_INSERT_GRANT = sa.insert(Grant.__table__).returning(Grant.__table__.c.id)
_INSERT_REFRESH = sa.insert(RefreshToken.__table__)


def save_code(code: str, **values: Any) -> None:
    _execute(_INSERT_CODE, {"code_hash": hash_secret(code), **values})


def find_code(code: Any) -> AuthorizationCodeRecord | None:
    """The code row with its user and SSO session, in one query."""
    if not isinstance(code, str) or not code or len(code) > 512:
        return None
    row = _execute(_CODE_BY_HASH, {"code_hash": hash_secret(code)}).one_or_none()
    return records.code_from(row) if row is not None else None


_CODE_BY_HASH = records.code_query()


_codes = AuthorizationCode.__table__
_CLAIM_CODE = (
    sa.update(_codes)
    .where(_codes.c.id == sa.bindparam("row_id"), _codes.c.used_at.is_(None))
    .values(used_at=sa.bindparam("now"))
)


def claim_code(row: AuthorizationCodeRecord, now: datetime) -> bool:
    """Mark a code used, atomically: False when another request used it first."""
    result = _execute(_CLAIM_CODE, {"row_id": row.id, "now": now})
    row.used_at = now
    return result.rowcount == 1


# ---------------------------------------------------------------- grants and refresh tokens


def create_grant(**values: Any) -> int:
    """Store a grant; returns its row id."""
    return _execute(_INSERT_GRANT, values).scalar_one()


def save_refresh_token(
    token: str,
    *,
    grant_id: int,
    client_id: str,
    expires_at: datetime,
    parent_id: int | None,
    now: datetime,
) -> None:
    """Store a new refresh token of the grant (only its hash is kept)."""
    _execute(
        _INSERT_REFRESH,
        {
            "token_hash": hash_secret(token),
            "grant_id": grant_id,
            "parent_id": parent_id,
            "client_id": client_id,
            "created_at": now,
            "expires_at": expires_at,
        },
    )


def find_refresh_token(token: Any) -> RefreshTokenRecord | None:
    """The refresh token row with its grant, user and session, in one query."""
    if not isinstance(token, str) or not token or len(token) > 512:
        return None
    row = _execute(_REFRESH_BY_HASH, {"token_hash": hash_secret(token)}).one_or_none()
    return records.refresh_token_from(row) if row is not None else None


_REFRESH_BY_HASH = records.refresh_token_query()


_refresh = RefreshToken.__table__
_CLAIM_REFRESH = (
    sa.update(_refresh)
    .where(_refresh.c.id == sa.bindparam("row_id"), _refresh.c.rotated_at.is_(None))
    .values(rotated_at=sa.bindparam("now"))
)


def claim_refresh_token(row: RefreshTokenRecord, now: datetime) -> bool:
    """Mark a refresh token rotated, atomically: False when it already was."""
    result = _execute(_CLAIM_REFRESH, {"row_id": row.id, "now": now})
    row.rotated_at = now
    return result.rowcount == 1


def successor_of(row: RefreshTokenRecord) -> RefreshTokenRecord | None:
    """The token that replaced `row` (the newest, should there be several)."""
    successor = _execute(_SUCCESSOR, {"parent_id": row.id}).scalar_one_or_none()
    return find_refresh_token_by_id(successor) if successor is not None else None


def find_refresh_token_by_id(row_id: int) -> RefreshTokenRecord | None:
    row = _execute(_REFRESH_BY_ID, {"row_id": row_id}).one_or_none()
    return records.refresh_token_from(row) if row is not None else None


_SUCCESSOR = (
    sa.select(_refresh.c.id)
    .where(_refresh.c.parent_id == sa.bindparam("parent_id"))
    .order_by(_refresh.c.id.desc())
    .limit(1)
)
_REFRESH_BY_ID = records.refresh_token_query(by="id")


def add_revocation(key: str, until: datetime, reason: str, now: datetime) -> bool:
    """Record that access tokens under `key` no longer count, until they would expire;
    False when they already did (one row per key, so this is atomic)."""
    result = db.session.execute(
        _insert(Revocation)
        .values(key=key, expires_at=until, created_at=now, reason=reason)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Revocation.key)
    )
    return result.first() is not None


def revoke_grant_family(gid: str, *, until: datetime, reason: str, now: datetime) -> bool:
    """End a token family: its refresh tokens (via the grant) and its access tokens.
    False when the family had been ended before."""
    db.session.execute(
        sa.update(Grant)
        .where(Grant.gid == gid, Grant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return add_revocation(f"grant:{gid}", until, reason, now)


def live_grants(
    *, user_id: int | None = None, client_id: str | None = None, sso_session_id: int | None = None
) -> list[Grant]:
    query = sa.select(Grant).where(Grant.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(Grant.user_id == user_id)
    if client_id is not None:
        query = query.where(Grant.client_id == client_id)
    if sso_session_id is not None:
        query = query.where(Grant.sso_session_id == sso_session_id)
    return list(db.session.execute(query).scalars())


def _revocation_count() -> Any:
    """How many live revocations cover the token (`jti:` key) or its grant (`grant:` key)."""
    return (
        sa.select(sa.func.count())
        .select_from(Revocation)
        .where(
            Revocation.key.in_([sa.bindparam("jti_key"), sa.bindparam("grant_key")]),
            Revocation.expires_at > sa.bindparam("now"),
        )
        .scalar_subquery()
    )


_TOKEN_STATUS = sa.select(
    _revocation_count(),
    clients_store.active_flag(sa.bindparam("client_id")),
    sa.select(User.status).where(User.sub == sa.bindparam("sub")).scalar_subquery(),
)
_USER_FOR_TOKEN = sa.select(
    *records.USER_COLUMNS,
    _revocation_count().label("revocations"),
    clients_store.active_flag(sa.bindparam("client_id")).label("client_active"),
).where(records.users.c.sub == sa.bindparam("sub"))


def _revocation_params(keys: list[str], now: datetime) -> dict[str, Any]:
    jti_key, grant_key = (list(keys) + ["", ""])[:2]
    return {"jti_key": jti_key, "grant_key": grant_key or jti_key, "now": now}


def token_status(
    *, keys: list[str], client_id: str, sub: str | None, now: datetime
) -> tuple[bool, bool, bool]:
    """(revoked, client active, user active) for an access token, in one round trip.

    `keys` are the token's `jti:` key and, for user tokens, its `grant:` key.
    """
    params = {**_revocation_params(keys, now), "client_id": client_id, "sub": sub or ""}
    with reading() as conn:
        count, active, status = conn.execute(_TOKEN_STATUS, params).one()
    return bool(count), bool(active), status == USER_ACTIVE


def user_for_token(
    *, keys: list[str], client_id: str, sub: str, now: datetime
) -> UserRecord | None:
    """The user behind a live access token, in one query.

    None when the token or its grant was revoked, or the user or the client is gone or
    disabled.
    """
    params = {**_revocation_params(keys, now), "client_id": client_id, "sub": sub}
    with reading() as conn:
        row = conn.execute(_USER_FOR_TOKEN, params).one_or_none()
    if row is None or row.revocations or not row.client_active:
        return None
    user = records.user_from(row)
    return user if user.is_active else None


# ---------------------------------------------------------------- client assertions


def note_assertion(client_id: str, jti: str, expires_at: datetime) -> bool:
    """Remember a private_key_jwt assertion's jti; False if it was seen before (replay)."""
    key = f"{client_id}:{hash_secret(jti)}"
    inserted = db.session.execute(
        _insert(UsedAssertion)
        .values(key=key, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(UsedAssertion.key)
    ).first()
    # RETURNING rather than rowcount: psycopg reports -1 for INSERT .. ON CONFLICT.
    return inserted is not None


# ---------------------------------------------------------------- consents


def find_consent(user_id: int, client_id: str) -> Consent | None:
    return db.session.execute(
        sa.select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
    ).scalar_one_or_none()


def save_consent(
    user_id: int, client_id: str, scopes: list[str], claims: list[str], now: datetime
) -> Consent:
    """Remember the scopes and claims (added to any given before)."""
    # INSERT .. ON CONFLICT DO NOTHING, then the row locked: two first consents of the same
    # person to the same client at once (two tabs) neither collide on the unique constraint
    # nor lose each other's scopes.
    db.session.execute(
        _insert(Consent)
        .values(
            user_id=user_id,
            client_id=client_id,
            scope="",
            claims="",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "client_id"])
    )
    consent = db.session.execute(
        sa.select(Consent)
        .where(Consent.user_id == user_id, Consent.client_id == client_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    consent.scope = " ".join(dict.fromkeys([*consent.scope.split(), *scopes]))
    consent.claims = " ".join(dict.fromkeys([*(consent.claims or "").split(), *claims]))
    consent.updated_at = now
    return consent


def delete_consent(user_id: int, client_id: str) -> bool:
    result = db.session.execute(
        sa.delete(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )
    return bool(result.rowcount)


def consents_of(user_id: int) -> list[Consent]:
    """A person's consents, newest first."""
    return list(
        db.session.execute(
            sa.select(Consent).where(Consent.user_id == user_id).order_by(Consent.updated_at.desc())
        ).scalars()
    )


# ---------------------------------------------------------------- SSO sessions


# Longest cookie handle looked up (idp.sessions.store.find_session has the same bound).
SESSION_HANDLE_MAX_LENGTH = 128
_SESSION_BY_HANDLE = records.session_query()
_sso = SsoSession.__table__
_TOUCH_SESSION = (
    sa.update(_sso)
    .where(_sso.c.id == sa.bindparam("row_id"))
    .values(last_seen_at=sa.bindparam("now"))
)


def find_live_session(handle: str | None, now: datetime) -> SessionRecord | None:
    """The live SSO session behind a cookie handle, with its person, in one query.

    What idp.sessions.current_session() answers, for the authorization endpoint, read the
    way the token paths read (idp.oidc.records): the same hash of the handle and the same
    liveness rules (idp.sessions.store.is_live).
    """
    if not handle or len(handle) > SESSION_HANDLE_MAX_LENGTH:
        return None
    row = _execute(_SESSION_BY_HANDLE, {"handle_hash": hash_handle(handle)}).one_or_none()
    if row is None:
        return None
    sso = records.session_with_user_from(row)
    return sso if is_live(sso, now) else None  # type: ignore[arg-type]


def touch_session(sso: SessionRecord, now: datetime) -> None:
    """Record activity as idp.sessions.store.touch decides (at most once a minute)."""
    if touch(sso, now):  # type: ignore[arg-type]
        _execute(_TOUCH_SESSION, {"row_id": sso.id, "now": now})


# ---------------------------------------------------------------- SSO session participants


def record_session_client(sso_session_id: int, client_id: str, now: datetime) -> None:
    """Note that the client got an ID token in this SSO session (issue 4's logout reads it)."""
    conn = db.session.connection()
    dialect = conn.dialect.name
    statement = _UPSERT_SESSION_CLIENT.get(dialect)
    if statement is None:
        insert = insert_for(dialect, SessionClient.__table__)
        statement = insert.on_conflict_do_update(
            index_elements=["sso_session_id", "client_id"],
            set_={"last_at": insert.excluded.last_at},
        )
        _UPSERT_SESSION_CLIENT[dialect] = statement
    conn.execute(
        statement,
        {"sso_session_id": sso_session_id, "client_id": client_id, "first_at": now, "last_at": now},
    )


_UPSERT_SESSION_CLIENT: dict[str, Any] = {}


def clients_of_session(sso_session_id: int) -> list[SessionClient]:
    return list(
        db.session.execute(
            sa.select(SessionClient)
            .where(SessionClient.sso_session_id == sso_session_id)
            .order_by(SessionClient.first_at)
        ).scalars()
    )


# ---------------------------------------------------------------- cleanup


def remove_expired(now: datetime | None = None) -> dict[str, int]:
    """Delete codes, grants, refresh tokens, revocations and assertion ids past their use."""
    now = now or utcnow()
    code_cutoff = now - timedelta(seconds=CODE_KEEP_AFTER_EXPIRY_SECONDS)
    counts = {}
    for name, statement in (
        ("codes", sa.delete(AuthorizationCode).where(AuthorizationCode.expires_at < code_cutoff)),
        ("refresh_tokens", sa.delete(RefreshToken).where(RefreshToken.expires_at < now)),
        ("grants", sa.delete(Grant).where(Grant.expires_at < now)),
        ("revocations", sa.delete(Revocation).where(Revocation.expires_at < now)),
        ("assertions", sa.delete(UsedAssertion).where(UsedAssertion.expires_at < now)),
    ):
        counts[name] = (
            db.session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0
        )
    return counts
