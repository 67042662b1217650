"""Finding people: by name with or without diacritics, by the beginning of any of their
addresses, within a set of units (docs/admin.md, "Người dùng").

A name is matched against users.search_name, the folded copy of the full name kept by the
ORM (idp.directory.models.fold_for_search): "nguyen van a" and "Nguyễn Văn A" both find
"Nguyễn Văn Anh". An address is matched from its beginning against user_emails.address.
What the person typed is a literal: LIKE's wildcards % and _ (and the escape character)
match themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from idp.directory.models import User, UserEmail, fold_for_search, normalize_email
from idp.extensions import db

# Longer queries are refused by the pages (no name or address is longer than this).
QUERY_MAX_LENGTH = 200
LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern escaped with LIKE_ESCAPE."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def matching(text: str) -> sa.ColumnElement[bool] | None:
    """The condition on users for a typed query; None for an empty one (everybody)."""
    text = text.strip()
    if not text:
        return None
    address = normalize_email(text)
    by_address = sa.select(UserEmail.user_id).where(
        UserEmail.address.like(escape_like(address) + "%", escape=LIKE_ESCAPE)
    )
    conditions = [User.id.in_(by_address)]
    folded = fold_for_search(text)
    if folded and "@" not in text:
        pattern = "%" + escape_like(folded) + "%"
        conditions.append(User.search_name.like(pattern, escape=LIKE_ESCAPE))
    return sa.or_(*conditions)


@dataclass(frozen=True)
class Page:
    users: list[User]
    # The offset of the next page, or None on the last one.
    next_offset: int | None


def search_people(
    text: str,
    *,
    unit_ids: Collection[int] | None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """One page of people matching `text`, in units `unit_ids` (None: any unit, and none),
    ordered by folded name; one query (plus one for the addresses of the page)."""
    query = sa.select(User)
    condition = matching(text)
    if condition is not None:
        query = query.where(condition)
    if unit_ids is not None:
        query = query.where(User.unit_id.in_(sorted(unit_ids)))
    if status:
        query = query.where(User.status == status)
    query = (
        query.order_by(User.search_name, User.id)
        .offset(offset)
        .limit(limit + 1)
        .options(selectinload(User.addresses), selectinload(User.unit))
    )
    users = list(db.session.scalars(query))
    more = len(users) > limit
    return Page(users[:limit], offset + limit if more else None)
