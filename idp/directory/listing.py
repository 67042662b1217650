"""`idp users list`: the accounts, streamed.

9,800 accounts loaded as ORM objects with their units and addresses took seconds before the
first line appeared, even under `| head`. Here the columns needed are read with one query
in batches (a server-side cursor on PostgreSQL, `yield_per`), each batch's aliases with one
more, and units from one map of the ~700 units, so the first line comes at once and the
whole list in well under a second (bench/users_list.py).

Filters: the units (a unit, or its subtree), the status, and a search in names and
addresses that ignores case and Vietnamese diacritics ("nguyen van a" finds "Nguyễn Văn
A"), applied while streaming; `limit` stops the query early.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from idp.directory.models import Unit, User, UserEmail, ascii_fold, normalize_email
from idp.extensions import db

BATCH_SIZE = 1000

_COLUMNS = (
    User.id,
    User.sub,
    User.email,
    User.family_name,
    User.middle_name,
    User.given_name,
    User.title,
    User.phone_number,
    User.roles,
    User.status,
    User.unit_id,
    User.password_hash.is_not(None).label("has_password"),
    User.must_change_password,
    User.created_at,
    User.updated_at,
    User.last_login_at,
)


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    # Codes from the root down to this unit.
    path: tuple[str, ...]


@dataclass(frozen=True)
class ListedUser:
    sub: str
    email: str
    aliases: list[str]
    family_name: str
    middle_name: str
    given_name: str
    title: str | None
    phone_number: str | None
    roles: list[str]
    status: str
    unit: UnitInfo | None
    has_password: bool
    must_change_password: bool
    created_at: datetime | None
    updated_at: datetime | None
    last_login_at: datetime | None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.family_name, self.middle_name, self.given_name) if p)

    def as_dict(self) -> dict[str, Any]:
        """The same object as `idp users show --json` (idp.directory.cli.user_data)."""
        unit = self.unit
        return {
            "sub": self.sub,
            "email": self.email,
            "aliases": self.aliases,
            "name": self.name,
            "family_name": self.family_name,
            "middle_name": self.middle_name,
            "given_name": self.given_name,
            "unit": None
            if unit is None
            else {"code": unit.code, "name": unit.name, "path": list(unit.path)},
            "title": self.title,
            "phone_number": self.phone_number,
            "roles": list(self.roles or []),
            "status": self.status,
            "has_password": self.has_password,
            "must_change_password": self.must_change_password,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "last_login_at": _iso(self.last_login_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def unit_map() -> dict[int, UnitInfo]:
    """Every unit with its path, from one query."""
    rows = {
        unit_id: (code, name, parent_id)
        for unit_id, code, name, parent_id in db.session.execute(
            sa.select(Unit.id, Unit.code, Unit.name, Unit.parent_id)
        )
    }
    infos: dict[int, UnitInfo] = {}

    def info(unit_id: int) -> UnitInfo:
        chain: list[int] = []
        node: int | None = unit_id
        while node is not None and node in rows and node not in chain and node not in infos:
            chain.append(node)
            node = rows[node][2]
        prefix = infos[node].path if node in infos else ()
        for member in reversed(chain):
            code, name, _parent = rows[member]
            prefix = (*prefix, code)
            infos[member] = UnitInfo(code, name, prefix)
        return infos[unit_id]

    for unit_id in rows:
        info(unit_id)
    return infos


def matches(search: str) -> callable:
    """A test of a user's name and addresses against `search`, case and diacritics aside."""
    needle = ascii_fold(search).casefold()

    def test(name: str, addresses: Iterable[str]) -> bool:
        haystack = " ".join((name, *addresses))
        return needle in ascii_fold(haystack).casefold()

    return test


def _aliases(user_ids: list[int], primaries: dict[int, str]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    rows = db.session.execute(
        sa.select(UserEmail.user_id, UserEmail.email, UserEmail.address)
        .where(UserEmail.user_id.in_(user_ids))
        .order_by(UserEmail.id)
    )
    for user_id, email, address in rows:
        if address != primaries[user_id]:
            found.setdefault(user_id, []).append(email)
    return found


def stream_users(
    *,
    unit_ids: Iterable[int] | None = None,
    status: str | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> Iterator[ListedUser]:
    """Accounts ordered by primary address (then id), as they are read."""
    query = sa.select(*_COLUMNS).order_by(sa.func.lower(User.email), User.id)
    if unit_ids is not None:
        query = query.where(User.unit_id.in_(sorted(unit_ids)))
    if status is not None:
        query = query.where(User.status == status)
    if limit is not None and search is None:
        query = query.limit(limit)
    units = unit_map()
    test = matches(search) if search else None
    sent = 0
    result = db.session.execute(query.execution_options(yield_per=BATCH_SIZE))
    for batch in result.partitions():
        primaries = {row.id: normalize_email(row.email) for row in batch}
        aliases = _aliases(list(primaries), primaries)
        for row in batch:
            own = aliases.get(row.id, [])
            user = _listed(row, own, units)
            if test is not None and not test(user.name, (row.email, *own)):
                continue
            yield user
            sent += 1
            if limit is not None and sent >= limit:
                result.close()
                return


def _listed(row: Any, aliases: list[str], units: dict[int, UnitInfo]) -> ListedUser:
    return ListedUser(
        sub=row.sub,
        email=row.email,
        aliases=aliases,
        family_name=row.family_name,
        middle_name=row.middle_name,
        given_name=row.given_name,
        title=row.title,
        phone_number=row.phone_number,
        roles=list(row.roles or []),
        status=row.status,
        unit=units.get(row.unit_id) if row.unit_id is not None else None,
        has_password=bool(row.has_password),
        must_change_password=bool(row.must_change_password),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_login_at=row.last_login_at,
    )
