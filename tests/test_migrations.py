"""Alembic: upgrade from empty, downgrade one step and upgrade again; models match migrations."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from idp.extensions import db


def _empty_database(database_url: str) -> None:
    """The fixture's database is already migrated; take it back to empty."""
    engine = sa.create_engine(database_url)
    meta = sa.MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def _heads(app) -> tuple[str, str]:
    script = app.extensions["migrate"].migrate.get_config().get_main_option("script_location")
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", script)
    directory = ScriptDirectory.from_config(cfg)
    head = directory.get_current_head()
    previous = directory.get_revision(head).down_revision
    return head, previous


def _current(app) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_upgrade_from_empty_downgrade_one_and_upgrade_again(app, database_url):
    _empty_database(database_url)
    with app.app_context():
        head, previous = _heads(app)
        assert _current(app) is None
        upgrade()
        assert _current(app) == head
        downgrade(revision="-1")
        assert _current(app) == previous
        upgrade()
        assert _current(app) == head
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"users", "units", "user_emails", "audit_events", "sso_sessions"} <= tables


def test_models_and_migrations_do_not_drift(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models differ from migrations: {diff}"


def test_full_downgrade_to_empty_and_back(app, database_url):
    with app.app_context():
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "users" in sa.inspect(db.engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_app):
    with sqlite_app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
