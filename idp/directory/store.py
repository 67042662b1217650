"""Directory look-ups and writes used by the rest of the provider."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from idp.directory.models import Unit, User, UserEmail, normalize_email
from idp.extensions import db


def find_user_by_address(address: str) -> User | None:
    """The user owning this address (primary or alias), compared case-insensitively."""
    key = normalize_email(address)
    if not key or len(key) > 320:
        return None
    return db.session.execute(
        sa.select(User)
        .join(UserEmail, UserEmail.user_id == User.id)
        .where(UserEmail.address == key)
        .options(selectinload(User.addresses))
    ).scalar_one_or_none()


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def find_user_by_sub(sub: str) -> User | None:
    return db.session.execute(
        sa.select(User).where(User.sub == sub).options(joinedload(User.unit))
    ).scalar_one_or_none()


def find_unit(code: str) -> Unit | None:
    return db.session.execute(sa.select(Unit).where(Unit.code == code)).scalar_one_or_none()


def address_owner(address: str) -> int | None:
    return db.session.execute(
        sa.select(UserEmail.user_id).where(UserEmail.address == normalize_email(address))
    ).scalar_one_or_none()


def set_addresses(user: User, primary: str, aliases: list[str]) -> None:
    """Make the user's addresses exactly `primary` + `aliases` (deduplicated, in order)."""
    wanted: dict[str, str] = {}
    for address in [primary, *aliases]:
        key = normalize_email(address)
        if key and key not in wanted:
            wanted[key] = address.strip()
    user.email = primary.strip()
    existing = {a.address: a for a in user.addresses}
    for key, row in existing.items():
        if key not in wanted:
            user.addresses.remove(row)
    for key, written in wanted.items():
        if key in existing:
            existing[key].email = written
        else:
            user.addresses.append(UserEmail(email=written, address=key))
