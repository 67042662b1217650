"""Flask extensions, created unbound and attached in create_app(), and the transaction helpers.

Who commits: the entry points, never the code they call. A request view, a CLI command or
one of the worker's jobs (idp.sessions.worker) calls `commit()` once its work is done;
services and stores only add to the current transaction (and may flush). An exception
before that commit leaves the stored data as it was: the session is rolled back when the
app context ends. Work that must be durable before its caller goes on (the first signing
keys, made while a request is being answered) runs in `own_transaction()`, never by
committing the caller's transaction. tests/test_layering.py enforces this.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()


def utcnow() -> datetime:
    return datetime.now(UTC)


def commit() -> None:
    """Commit what this request or command wrote; nothing at all when it wrote nothing (a
    client_credentials grant with its client cached never opens a session). For entry
    points only (see the module's docstring)."""
    if not db.session.registry.has():
        return
    session = db.session()
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        session.commit()


def rollback() -> None:
    """Drop what the current transaction wrote (an entry point that goes on after a
    failure, such as the worker's loop)."""
    db.session.rollback()


@contextmanager
def transaction() -> Iterator[None]:
    """An entry point's unit of work: committed when the block ends, rolled back if it
    raises (so a command that reports the error and goes on leaves nothing half-written)."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


@contextmanager
def own_transaction() -> Iterator[sa.orm.Session]:
    """A session of its own, committed when the block ends (rolled back if it raises),
    whatever the caller's transaction holds."""
    with sa.orm.Session(db.engine) as session, session.begin():
        yield session


@contextmanager
def reading() -> Iterator[sa.Connection]:
    """A connection for reads that write nothing: the session's when this request already
    has a transaction open, else one from the pool just for them. Opening a session costs
    more than the indexed reads of the introspection and userinfo endpoints.

    On PostgreSQL that connection runs in autocommit: each of these reads is one statement
    (its own consistent snapshot), and BEGIN and ROLLBACK would be two more round trips.
    """
    if db.session.registry.has():
        session = db.session()
        if session.in_transaction():
            yield session.connection()
            return
    engine = db.engine
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


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
