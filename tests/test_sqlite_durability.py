"""SQLITE_SYNCHRONOUS: what each SQLite connection of the app is set to."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from idp.settings import SettingsError

# PRAGMA synchronous answers a number: 1 is NORMAL, 2 is FULL.
LEVELS = {"NORMAL": 1, "FULL": 2}


def _pragmas(app) -> tuple[int, str, int]:
    from idp.extensions import db

    with app.app_context():
        conn = db.session.connection()
        values = tuple(
            conn.execute(sa.text(f"PRAGMA {name}")).scalar()
            for name in ("synchronous", "journal_mode", "foreign_keys")
        )
        db.session.remove()
    return values


def test_default_is_normal_in_wal_mode(sqlite_app):
    assert _pragmas(sqlite_app) == (LEVELS["NORMAL"], "wal", 1)


@pytest.mark.parametrize(
    "app_config", [{"SQLITE_SYNCHRONOUS": "FULL"}, {"SQLITE_SYNCHRONOUS": "full"}]
)
def test_full_waits_for_the_disk_at_each_commit(sqlite_app):
    assert _pragmas(sqlite_app) == (LEVELS["FULL"], "wal", 1)


@pytest.mark.parametrize("value", ["OFF", "", "EXTRA; DROP TABLE users", 2])
def test_other_values_are_refused_at_start(sqlite_url, value):
    from idp import create_app

    with pytest.raises(SettingsError, match="IDP_SQLITE_SYNCHRONOUS"):
        create_app(
            {
                "DATABASE_URL": sqlite_url,
                "ISSUER": "http://idp.test",
                "SECRET_KEY": "x" * 40,
                "SQLITE_SYNCHRONOUS": value,
            }
        )
