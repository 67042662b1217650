"""Storage of relying-party registrations and initial access tokens.

The few functions the client registry needs; nothing else in the registry touches db.session.
The protocol (idp.oidc) reads clients through the functions of the first section only:
find_active_client, find_active_client_cached, active_flag and clients_by_id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from idp.clients.models import Client, ClientJwks, InitialAccessToken
from idp.extensions import db, insert_for, own_transaction, reading

CLIENT_ID_MAX_LENGTH = 128
CLIENT_CACHE_KEY = "idp.clients.cache"


def _plausible_id(client_id: Any) -> bool:
    return isinstance(client_id, str) and 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH


# ---------------------------------------------------------------- what the protocol reads


def find_active_client(client_id: Any) -> Client | None:
    """An enabled client by client_id, in the current session; None for unknown, disabled
    or malformed ids: what protocol endpoints may use."""
    if not _plausible_id(client_id):
        return None
    return db.session.execute(_ACTIVE_CLIENT, {"client_id": client_id}).scalar_one_or_none()


def active_flag(client_id: Any) -> sa.ScalarSelect:
    """Whether the client `client_id` (a value or a bind parameter) is enabled, as a scalar
    subquery (NULL for an unknown client): for a protocol query that checks a token's
    client in the same round trip as the rest."""
    return sa.select(Client.active).where(Client.client_id == client_id).scalar_subquery()


def clients_by_id(client_ids: Iterable[str]) -> dict[str, Client]:
    """The clients among `client_ids` that exist, enabled or not, by client_id."""
    wanted = {cid for cid in client_ids if _plausible_id(cid)}
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(Client).where(Client.client_id.in_(wanted))).scalars()
    return {client.client_id: client for client in rows}


# Statements on the hot paths are built once; only their parameters change.
_ACTIVE_CLIENT = sa.select(Client).where(
    Client.client_id == sa.bindparam("client_id"), Client.active.is_(True)
)
_ACTIVE_CLIENT_ROW = sa.select(*Client.__table__.c).where(
    Client.__table__.c.client_id == sa.bindparam("client_id"),
    Client.__table__.c.active.is_(True),
)


class _ClientCache:
    """Active clients as the protocol endpoints last read them, per process and app.

    Every token, introspection and authorization request names its client; reading the
    registration from the database each time costs more than the rest of a
    client_credentials grant. An entry is used for at most CLIENT_CACHE_SECONDS, so a
    client disabled or changed by another process (another worker, `idp clients`) takes
    effect within that time; a write made by this process drops the whole cache at once
    (_drop_cached_clients). The secret is still checked on every request, against the
    cached hash. Unknown and disabled clients are never cached.
    """

    MAX_ENTRIES = 1000

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, int, Client]] = {}


_client_generation = 0


def _drop_cached_clients(*_args: Any) -> None:
    global _client_generation
    _client_generation += 1


def _drop_after_bulk(context: Any) -> None:
    if context.mapper.class_ is Client:
        _drop_cached_clients()


# A change this process makes to a client through the ORM drops every entry at once:
# flushed objects (what the client registry does) and Query.update()/delete(). These
# events cost nothing on other statements; a plain SQL write is seen like another
# process's, within CLIENT_CACHE_SECONDS.
for _event in ("after_insert", "after_update", "after_delete"):
    sa.event.listen(Client, _event, _drop_cached_clients)
sa.event.listen(Session, "after_bulk_update", _drop_after_bulk)
sa.event.listen(Session, "after_bulk_delete", _drop_after_bulk)


def find_active_client_cached(client_id: Any) -> Client | None:
    """find_active_client through the per-process cache (_ClientCache): for the protocol
    endpoints' hot paths.

    The client returned belongs to no database session: read it, never change it.
    """
    if not _plausible_id(client_id):
        return None
    ttl = current_app.config["CLIENT_CACHE_SECONDS"]
    if ttl <= 0:
        return find_active_client(client_id)
    cache: _ClientCache = current_app.extensions.setdefault(CLIENT_CACHE_KEY, _ClientCache())
    now = time.monotonic()
    entry = cache.entries.get(client_id)
    if entry is not None and entry[0] > now and entry[1] == _client_generation:
        return entry[2]
    generation = _client_generation
    with reading() as conn:
        row = conn.execute(_ACTIVE_CLIENT_ROW, {"client_id": client_id}).one_or_none()
    if row is None:
        cache.entries.pop(client_id, None)
        return None
    client = Client(**row._asdict())
    if len(cache.entries) >= cache.MAX_ENTRIES:
        cache.entries.clear()
    cache.entries[client_id] = (now + ttl, generation, client)
    return client


# ---------------------------------------------------------------- the registry's own


def find_client(client_id: str) -> Client | None:
    """A client by client_id, enabled or not (the registry's management functions)."""
    if not _plausible_id(client_id):
        return None
    return db.session.execute(
        sa.select(Client).where(Client.client_id == client_id)
    ).scalar_one_or_none()


def list_clients() -> list[Client]:
    return list(db.session.execute(sa.select(Client).order_by(Client.client_id)).scalars())


def add(row: Client | InitialAccessToken) -> None:
    db.session.add(row)
    db.session.flush()


def delete_client(client: Client) -> None:
    db.session.delete(client)
    db.session.flush()


# ---- initial access tokens (RFC 7591 section 3)


def find_initial_access_token(token_hash: str) -> InitialAccessToken | None:
    return db.session.execute(
        sa.select(InitialAccessToken).where(InitialAccessToken.token_hash == token_hash)
    ).scalar_one_or_none()


def get_initial_access_token(token_id: int) -> InitialAccessToken | None:
    return db.session.get(InitialAccessToken, token_id)


def list_initial_access_tokens() -> list[InitialAccessToken]:
    return list(
        db.session.execute(sa.select(InitialAccessToken).order_by(InitialAccessToken.id)).scalars()
    )


def delete_initial_access_token(token: InitialAccessToken) -> None:
    db.session.delete(token)
    db.session.flush()


def consume_initial_access_token(token_hash: str, now: datetime) -> bool:
    """Use the token once, atomically: True if it was valid and had a use left.

    One conditional UPDATE, so two concurrent registrations cannot both spend the last use:
    PostgreSQL re-checks the WHERE clause after the first writer commits, SQLite serialises
    writers. A token with uses_left NULL is unlimited until it expires (NULL - 1 stays NULL).
    """
    token = InitialAccessToken
    result = db.session.execute(
        sa.update(token)
        .where(
            token.token_hash == token_hash,
            sa.or_(token.uses_left.is_(None), token.uses_left > 0),
            sa.or_(token.expires_at.is_(None), token.expires_at > now),
        )
        .values(uses_left=token.uses_left - 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def delete_spent_initial_access_tokens(now: datetime) -> int:
    """Remove tokens that expired or have no use left (for `idp cleanup`); returns how many."""
    token = InitialAccessToken
    result = db.session.execute(
        sa.delete(token)
        .where(sa.or_(token.uses_left <= 0, token.expires_at <= now))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# ---- keys at clients' jwks_uri (idp.oidc.client_keys)
#
# The turn to fetch and its outcome are written in short transactions of their own
# (idp.extensions.own_transaction), committed at once: other processes must see them while the
# request that fetched is still running, and the request's own transaction stays as it is.

_JWKS = ClientJwks.__table__


def find_client_jwks(client_id: str) -> ClientJwks | None:
    return db.session.get(ClientJwks, client_id, populate_existing=True)


def claim_jwks_fetch(client_id: str, jwks_uri: str, now: datetime, hold: timedelta) -> bool:
    """Take the turn to fetch the client's jwks_uri: True for one caller at a time, and only
    when the row's next_fetch_at has come. The turn lasts `hold`; the outcome sets the next
    one.

    Another registered jwks_uri drops the stored keys but not the turn nor the count of
    failures: the interval and the back-off are the client's, so changing the jwks_uri
    (one RFC 7592 PUT) does not buy a fetch on a request thread."""
    with own_transaction() as conn:
        insert = insert_for(conn.get_bind().dialect.name, _JWKS)
        conn.execute(
            insert.values(
                client_id=client_id, jwks_uri=jwks_uri, next_fetch_at=now, failures=0
            ).on_conflict_do_nothing(index_elements=["client_id"])
        )
        conn.execute(
            sa.update(_JWKS)
            .where(_JWKS.c.client_id == client_id, _JWKS.c.jwks_uri != jwks_uri)
            .values(jwks_uri=jwks_uri, jwks=None, fetched_at=None)
        )
        taken = conn.execute(
            sa.update(_JWKS)
            .where(_JWKS.c.client_id == client_id, _JWKS.c.next_fetch_at <= now)
            .values(next_fetch_at=now + hold)
        )
        return taken.rowcount == 1


def record_jwks_fetched(
    client_id: str, jwks_uri: str, jwks: dict[str, Any], now: datetime, next_fetch_at: datetime
) -> None:
    with own_transaction() as conn:
        conn.execute(
            sa.update(_JWKS)
            .where(_JWKS.c.client_id == client_id, _JWKS.c.jwks_uri == jwks_uri)
            .values(
                jwks=jwks,
                fetched_at=now,
                failures=0,
                last_error=None,
                next_fetch_at=next_fetch_at,
            )
        )


def record_jwks_failure(client_id: str, jwks_uri: str, error: str, next_fetch_at: Any) -> None:
    """One more failure; `next_fetch_at(failures)` says when to try again after that many."""
    with own_transaction() as conn:
        failures = conn.execute(
            sa.select(_JWKS.c.failures).where(
                _JWKS.c.client_id == client_id, _JWKS.c.jwks_uri == jwks_uri
            )
        ).scalar()
        if failures is None:
            return
        conn.execute(
            sa.update(_JWKS)
            .where(_JWKS.c.client_id == client_id, _JWKS.c.jwks_uri == jwks_uri)
            .values(
                failures=failures + 1,
                last_error=error[:200],
                next_fetch_at=next_fetch_at(failures + 1),
            )
        )


def jwks_clients() -> list[tuple[str, dict[str, Any], str | None, datetime | None]]:
    """Every active client: (client_id, metadata, jwks_uri and fetched_at of its stored
    keys or None), plain values, for the refresh in `idp worker`."""
    rows = db.session.execute(
        sa.select(
            Client.client_id, Client.client_metadata, ClientJwks.jwks_uri, ClientJwks.fetched_at
        )
        .outerjoin(ClientJwks, ClientJwks.client_id == Client.client_id)
        .where(Client.active.is_(True))
        .order_by(Client.client_id)
    ).all()
    return [(cid, meta or {}, uri, fetched_at) for cid, meta, uri, fetched_at in rows]
