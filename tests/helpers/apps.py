"""The provider's apps as the tests build them: test settings, and freshly migrated
databases (PostgreSQL copies of a template made ahead of need)."""

from __future__ import annotations

import os
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

PG_URL = os.environ.get("IDP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Fast argon2 parameters for tests (the production defaults are tested explicitly).
FAST_HASH = {"ARGON2_MEMORY_KIB": 1024, "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1}
BASE_CONFIG = {
    "ENV": "development",
    "ISSUER": "http://idp.test",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "LOG_FORMAT": "text",
    "LOG_LEVEL": "WARNING",
    **FAST_HASH,
}


def pg_admin_url(database: str = "postgres") -> sa.engine.URL:
    return sa.make_url(PG_URL).set(database=database)


def pg_reachable() -> str | None:
    try:
        engine = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error: not reachable
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    from idp import create_app

    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade()
        from idp.extensions import db

        db.engine.dispose()


@contextmanager
def app_on(database_url: str, config: dict) -> Iterator:
    """The app on `database_url` with the test settings and `config`; its engine is
    disposed of afterwards."""
    from idp import create_app
    from idp.extensions import db

    app = create_app({**BASE_CONFIG, "DATABASE_URL": database_url, **config})
    app.config["TESTING"] = True
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class PgDatabases:
    """Copies of the PostgreSQL template, made ahead of need on a background thread.

    CREATE DATABASE ... TEMPLATE takes 0.2-0.4 s here, most of it waiting for the disk; made
    while the previous test runs, the next test finds its copy ready. Used copies are
    dropped on the same thread. Each test still gets a database nobody else touched.
    """

    AHEAD = 2

    def __init__(self, template: str) -> None:
        self.template = template
        self.ready: queue.Queue[str | None] = queue.Queue(maxsize=self.AHEAD)
        self.used: queue.Queue[str] = queue.Queue()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="pg-test-databases", daemon=True)
        self.thread.start()

    def take(self) -> str:
        name = self.ready.get(timeout=120)
        if name is None:
            self.ready.put(None)  # for the next test too
            raise RuntimeError(f"could not copy the PostgreSQL template: {self.error!r}")
        return name

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(120)
        while True:
            try:
                name = self.ready.get_nowait()
            except queue.Empty:
                break
            if name is not None:
                self.used.put(name)
        admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            self._drop_used(admin)
        finally:
            admin.dispose()

    def _run(self) -> None:
        admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            while not self.stopping.is_set():
                name = f"idp_t_{uuid.uuid4().hex[:12]}"
                with admin.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
                while True:
                    self._drop_used(admin)
                    if self.stopping.is_set():
                        self.used.put(name)
                        break
                    try:
                        self.ready.put(name, timeout=0.05)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # reported to the test that waits for a database
            self.error = exc
            self.ready.put(None)
        finally:
            admin.dispose()

    def _drop_used(self, admin: sa.Engine) -> None:
        while True:
            try:
                name = self.used.get_nowait()
            except queue.Empty:
                return
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
