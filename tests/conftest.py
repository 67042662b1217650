"""Test fixtures: an app per test with a freshly migrated database, SQLite and PostgreSQL.

PostgreSQL is at IDP_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test). When it
cannot be reached the PostgreSQL variants are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.apps import PG_URL, PgDatabases, app_on, migrate, pg_admin_url, pg_reachable
from helpers.ci import unavailable
from helpers.clients import make_client, make_machine_client
from helpers.oidc_flow import ClientKeys, RelyingParty
from helpers.pages import AuthActions
from helpers.people import EMAIL, PASSWORD
from helpers.receiver import LogoutReceiver


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    reason = pg_reachable()
    if reason is not None:
        unavailable(f"PostgreSQL not reachable at {PG_URL} ({reason})")
    name = f"idp_tmpl_{os.getpid()}"
    admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    migrate(pg_admin_url(name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
        yield pg_admin_url(name).render_as_string(hide_password=False)
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


@pytest.fixture
def app(database_url, app_config):
    with app_on(database_url, app_config) as app:
        yield app


@pytest.fixture
def sqlite_app(sqlite_url, app_config):
    with app_on(sqlite_url, app_config) as app:
        yield app


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


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    """Debian's slapd on 127.0.0.1 (tests/helpers/slapd.py), for the whole session; tests
    load subtrees of their own into it (helpers.slapd.LdapTree)."""
    from helpers.slapd import start_slapd

    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


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
    make_machine_client(app, "resource", "lgsp.read")
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
