"""Storage of relying-party registrations and initial access tokens.

The few functions the client registry needs; nothing else in the registry touches db.session.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from idp.extensions import db
from idp.oidc.models import Client, InitialAccessToken


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
