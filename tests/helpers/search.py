"""What the console's people search finds: the function behind /admin/people, and the
stored folded names, to check that every way of writing people keeps them searchable."""

from __future__ import annotations

import sqlalchemy as sa


def found_by(app, text: str) -> list[str]:
    """Primary addresses of everyone the search finds for `text` (first page, any unit)."""
    from idp.directory.search import search_people

    with app.app_context():
        return [user.email for user in search_people(text, unit_ids=None, limit=1000).users]


def stale_search_names(app) -> list[str]:
    """Addresses of the people whose stored folded name is not that of their name."""
    from idp.directory.models import User, search_name_of
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(
                User.email, User.family_name, User.middle_name, User.given_name, User.search_name
            )
        )
        return [
            email
            for email, family, middle, given, stored in rows
            if stored != search_name_of(family, middle, given)
        ]
