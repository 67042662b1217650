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


def test_a_writer_waits_for_another_processs_write_instead_of_failing(sqlite_app, sqlite_url):
    """Two worker processes write to one SQLite file: the second waits in SQLite's busy
    handler (the connection's 10-second timeout) for the first to commit."""
    import subprocess
    import sys

    from idp.extensions import db
    from idp.sessions.models import LoginThrottle

    path = sqlite_url.removeprefix("sqlite:///")
    holder = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        'c.execute("INSERT INTO login_throttle (key, failures, refused, window_start,'
        " last_failure_at) VALUES ('held', 1, 0, '2026-01-01', '2026-01-01')\")\n"
        "print('holding', flush=True)\n"
        "time.sleep(0.5)\n"
        "c.commit()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", holder, path], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "holding"
        with sqlite_app.app_context():
            db.session.add(LoginThrottle(key="waited", failures=1))
            db.session.commit()
            assert {row.key for row in db.session.query(LoginThrottle)} == {"held", "waited"}
            db.session.remove()
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()
