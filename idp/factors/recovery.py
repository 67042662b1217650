"""Recovery codes: ten single-use codes issued with the first factor, shown once, stored
as hashes. Each holds 10 characters of a 31-letter alphabet (about 50 bits): too many to
guess under the sign-in throttle, so a plain SHA-256 (no slow hash) is enough.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa

from idp.extensions import db
from idp.factors.models import RecoveryCode

COUNT = 10
LENGTH = 10
# No 0/o, 1/l/i: read from paper without doubt.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return raw[:5] + "-" + raw[5:]


def clean(code: str | None) -> str | None:
    """The code as typed, lower case, without spaces or dashes; None unless it can be one."""
    text = "".join((code or "").split()).replace("-", "").lower()
    if len(text) != LENGTH or any(c not in ALPHABET for c in text):
        return None
    return text


def code_hash(user_id: int, cleaned: str) -> str:
    return hashlib.sha256(f"{user_id}:{cleaned}".encode()).hexdigest()


def issue(user_id: int, now: datetime) -> list[str]:
    """Replace the person's codes with ten new ones; returns them, to be shown once."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_code() for _ in range(COUNT)]
    for code in codes:
        cleaned = clean(code)
        assert cleaned is not None
        db.session.add(
            RecoveryCode(user_id=user_id, code_hash=code_hash(user_id, cleaned), created_at=now)
        )
    db.session.flush()
    return codes


def redeem(user_id: int, code: str, now: datetime) -> bool:
    """Spend a code: True once per code. A conditional UPDATE, so two requests with the
    same code at once spend it once."""
    cleaned = clean(code)
    if cleaned is None:
        return False
    result = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == code_hash(user_id, cleaned),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def remaining(user_id: int) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def remove_all(user_id: int) -> None:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
