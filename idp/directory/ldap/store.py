"""What the sync reads beyond the import's records: which accounts are mirrored, and how."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from idp.directory import legacy
from idp.directory.models import USER_ACTIVE, User
from idp.extensions import db

SOURCE_LDAP = "ldap"


@dataclass
class MirrorRecord:
    user_id: int
    source: str | None
    external_id: str | None
    disabled_by_source: bool
    has_password: bool = False
    # The stored hash when it is an imported one nobody has signed in with yet (a sign-in
    # replaces it with argon2id); a password set here is never loaded, nor ever replaced.
    legacy_hash: str | None = field(default=None, repr=False)


def _mirror_record(row: sa.Row) -> MirrorRecord:
    uid, source, external_id, disabled_by_source, password_hash = row
    legacy_hash = None if legacy.is_argon2(password_hash) else password_hash
    return MirrorRecord(
        uid,
        source,
        external_id,
        bool(disabled_by_source),
        has_password=password_hash is not None,
        legacy_hash=legacy_hash,
    )


def load_mirror() -> dict[int, MirrorRecord]:
    rows = db.session.execute(
        sa.select(
            User.id, User.source, User.external_id, User.disabled_by_source, User.password_hash
        )
    )
    return {row[0]: _mirror_record(row) for row in rows}


def count_active_users() -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(User).where(User.status == USER_ACTIVE)
    ).scalar_one()
