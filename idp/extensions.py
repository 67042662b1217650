"""Flask extensions, created unbound and attached in create_app()."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app, request
from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class MethodFirstCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection, asking the cheap question first.

    Flask-WTF looks up the view's exemption before the request method; GET, HEAD and
    OPTIONS requests (most of the traffic) need neither.
    """

    def protect(self, apply_exemptions: bool = False) -> None:
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        super().protect(apply_exemptions)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = MethodFirstCSRFProtect()
babel = Babel()


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_for(dialect: str, target):
    """An INSERT for this database that takes ON CONFLICT clauses: PostgreSQL's or SQLite's,
    which offer the same on_conflict_do_nothing and on_conflict_do_update."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as naive UTC and always returned timezone-aware.

    SQLite has no time zone type; storing naive UTC everywhere keeps both engines alike.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


SQLITE_SYNCHRONOUS_MODES = ("NORMAL", "FULL")


def sqlite_synchronous(app) -> None:
    """PRAGMA synchronous of the app's SQLite database from SQLITE_SYNCHRONOUS.

    NORMAL (the default, set for every SQLite connection below): in WAL mode a commit is
    safe when the process dies, and a power loss or operating-system crash may undo the
    last commits. FULL: each commit also waits for the disk (docs/performance.md).
    """
    mode = str(app.config.get("SQLITE_SYNCHRONOUS", "NORMAL")).upper()
    if mode not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {SQLITE_SYNCHRONOUS_MODES}")
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite" or mode == "NORMAL":
        return

    @sa.event.listens_for(engine, "connect")
    def _synchronous(dbapi_connection, connection_record):
        # After _sqlite_pragmas: listeners on the engine run after those on the class.
        dbapi_connection.execute(f"PRAGMA synchronous={mode}")


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite runs in WAL mode with foreign keys enforced."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
