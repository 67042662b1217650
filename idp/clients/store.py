"""Storage of relying-party registrations and initial access tokens.

The few functions the client registry needs; nothing else in the registry touches db.session.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from idp.clients.models import Client, ClientJwks, InitialAccessToken
from idp.extensions import db, insert_for


def find_client(client_id: str) -> Client | None:
    if not client_id or len(client_id) > 128:
        return None
    return db.session.execute(
        sa.select(Client).where(Client.client_id == client_id)
    ).scalar_one_or_none()


def find_active_client(client_id: str) -> Client | None:
    """The client if it exists and is enabled: what protocol endpoints may use."""
    client = find_client(client_id)
    return client if client is not None and client.active else None


def list_clients() -> list[Client]:
    return list(db.session.execute(sa.select(Client).order_by(Client.client_id)).scalars())


def add(row: Client | InitialAccessToken) -> None:
    db.session.add(row)
    db.session.flush()


def delete_client(client: Client) -> None:
    db.session.delete(client)
    db.session.flush()


def commit() -> None:
    db.session.commit()


def rollback() -> None:
    db.session.rollback()


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
# The turn to fetch and its outcome are written in short transactions of their own, on a
# connection of their own and committed at once: other processes must see them while the
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
    with db.engine.begin() as conn:
        insert = insert_for(conn.dialect.name, _JWKS)
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
    with db.engine.begin() as conn:
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
    with db.engine.begin() as conn:
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
