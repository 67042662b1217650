"""Rows in the test database: counted, and moved into the past instead of waiting."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa


def count_rows(app, model) -> int:
    from idp.extensions import db

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def move_back(app, model, **seconds: float) -> None:
    """Move each named time column of every `model` row that many seconds into the past:
    `move_back(app, SsoSession, auth_time=600)`."""
    from idp.extensions import db

    with app.app_context():
        for row in db.session.execute(sa.select(model)).scalars():
            for column, amount in seconds.items():
                setattr(row, column, getattr(row, column) - timedelta(seconds=amount))
        db.session.commit()
