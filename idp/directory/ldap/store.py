"""What the sync reads beyond the import's records: which accounts are mirrored, and how."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from idp.directory.models import USER_ACTIVE, User
from idp.extensions import db

SOURCE_LDAP = "ldap"


@dataclass
class MirrorRecord:
    user_id: int
    source: str | None
    external_id: str | None
    disabled_by_source: bool


def load_mirror() -> dict[int, MirrorRecord]:
    rows = db.session.execute(
        sa.select(User.id, User.source, User.external_id, User.disabled_by_source)
    )
    return {row[0]: MirrorRecord(row[0], row[1], row[2], bool(row[3])) for row in rows}


def count_active_users() -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(User).where(User.status == USER_ACTIVE)
    ).scalar_one()
