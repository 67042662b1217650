"""Test fixtures: an app per test with a freshly migrated database, SQLite and PostgreSQL.

PostgreSQL is at IDP_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test). When it
cannot be reached the PostgreSQL variants are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.ci import unavailable
from helpers.clients import make_client
from helpers.oidc_flow import ClientKeys, RelyingParty
from helpers.pages import AuthActions
from helpers.people import EMAIL, PASSWORD
from helpers.receiver import LogoutReceiver

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


def _pg_admin_url(database: str = "postgres") -> sa.engine.URL:
    return sa.make_url(PG_URL).set(database=database)


def _pg_reachable() -> str | None:
    try:
        engine = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error: not reachable
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    from idp import create_app

    app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade()
        from idp.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    reason = _pg_reachable()
    if reason is not None:
        unavailable(f"PostgreSQL not reachable at {PG_URL} ({reason})")
    name = f"idp_tmpl_{os.getpid()}"
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    _migrate(_pg_admin_url(name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
        admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            self._drop_used(admin)
        finally:
            admin.dispose()

    def _run(self) -> None:
        admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
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


@pytest.fixture(scope="session")
def pg_databases(pg_template) -> Iterator[PgDatabases]:
    databases = PgDatabases(pg_template)
    yield databases
    databases.close()


def _fresh_database(kind: str, request, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "idp.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    name = databases.take()
    try:
        yield _pg_admin_url(name).render_as_string(hide_password=False)
    finally:
        databases.give_back(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A freshly migrated database, once on SQLite and once on PostgreSQL."""
    yield from _fresh_database(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request, tmp_path) -> Iterator[str]:
    """A freshly migrated SQLite database, for tests where the engine does not matter."""
    yield from _fresh_database("sqlite", request, tmp_path)


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change settings."""
    return {}


def _make_app(url: str, extra: dict):
    from idp import create_app

    app = create_app({**BASE_CONFIG, "DATABASE_URL": url, **extra})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(database_url, app_config):
    app = _make_app(database_url, app_config)
    yield app
    with app.app_context():
        from idp.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sqlite_app(sqlite_url, app_config):
    app = _make_app(sqlite_url, app_config)
    yield app
    with app.app_context():
        from idp.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_unit(app):
    """Factory: make_unit(code, name=..., kind=..., parent=code) -> Unit."""

    def make(
        code: str, name: str | None = None, kind: str = "department", parent: str | None = None
    ):
        from idp.directory.models import Unit
        from idp.directory.store import find_unit
        from idp.extensions import db

        with app.app_context():
            unit = Unit(code=code, name=name or f"Đơn vị {code}", kind=kind)
            if parent:
                unit.parent_id = find_unit(parent).id
            db.session.add(unit)
            db.session.commit()
            return unit.id

    return make


@pytest.fixture
def make_user(app):
    """Factory: make_user(email, password=..., aliases=[...], roles=[...], unit=code) -> sub."""

    def make(
        email: str = EMAIL,
        password: str | None = PASSWORD,
        *,
        aliases: list[str] | None = None,
        family_name: str = "Nguyễn",
        middle_name: str = "Văn",
        given_name: str = "An",
        roles: list[str] | None = None,
        unit: str | None = None,
        status: str = "active",
    ) -> str:
        from idp.directory.models import User
        from idp.directory.passwords import hash_password
        from idp.directory.store import find_unit, set_addresses
        from idp.extensions import db

        with app.test_request_context():
            user = User(
                family_name=family_name,
                middle_name=middle_name,
                given_name=given_name,
                roles=roles or [],
                status=status,
                password_hash=hash_password(password) if password else None,
            )
            if unit:
                user.unit_id = find_unit(unit).id
            set_addresses(user, email, aliases or [])
            db.session.add(user)
            db.session.commit()
            return user.sub

    return make


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def argon2_verifications(monkeypatch):
    """Records the hash given to every argon2 verification (calls through to argon2)."""
    from argon2 import PasswordHasher

    calls: list[str] = []
    original = PasswordHasher.verify

    def spy(self, hash, password):
        calls.append(hash if isinstance(hash, str) else hash.decode())
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return calls


@pytest.fixture
def rp(app, client, make_user):
    """A signed-out browser, a user, a first-party confidential client and a resource server
    (the relying party of tests/helpers/oidc_flow.py)."""
    make_user()
    make_client(app)
    make_client(
        app,
        "resource",
        grant_types=["client_credentials"],
        scope="lgsp.read",
        redirect_uris=[],
    )
    return RelyingParty(client)


@pytest.fixture
def receiver():
    """A relying party's back-channel logout endpoint on 127.0.0.1 (helpers/receiver.py)."""
    server = LogoutReceiver()
    yield server
    server.stop()


@pytest.fixture
def client_keys():
    """A private_key_jwt client's keys, published at a jwks_uri on 127.0.0.1."""
    keys = ClientKeys()
    yield keys
    keys.close()


# Headless Chromium for the page tests: Debian's package, never a downloaded browser.
CHROMIUM = Path(os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium driven by Playwright; skipped without it, except in CI."""
    if not CHROMIUM.exists():
        unavailable(f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
