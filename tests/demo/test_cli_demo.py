"""`idp demo seed` and `idp demo export`: the demo directory through the import machinery.

The commands are invoked on the demo's own group (what the `flask.commands` entry point adds
to `idp`); the last test runs the installed `idp` command to see that the group is there."""

from __future__ import annotations

import json
import subprocess
import sys

import sqlalchemy as sa
from helpers.admin import make_admin
from helpers.search import found_by, stale_search_names

from idp.directory.models import Unit, User
from idp.extensions import db
from idp_demo.cli import demo_group
from idp_demo.directory import DEMO_ACCOUNTS


def test_seed_twice_then_sign_in_as_the_demo_accounts(app, runner, client, auth, make_user):
    first = runner.invoke(demo_group, ["seed"])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(
        "Units: 704 created, 0 updated, 0 disabled, 0 unchanged, 0 rejected\n"
        "Accounts: 9800 created, 0 updated, 0 disabled, 0 unchanged, 0 rejected\n"
    )
    account_lines = [line for line in first.stdout.splitlines() if "password: " in line]
    assert len(account_lines) == len(DEMO_ACCOUNTS)
    for line, account in zip(account_lines, DEMO_ACCOUNTS, strict=True):
        assert line.endswith(f"password: {account.password}")
        assert f" {account.email} " in line
    # One table: the addresses and the passwords start in the same column on every line.
    assert len({line.index("password: ") for line in account_lines}) == 1
    assert len({line.index(a.email) for line, a in zip(account_lines, DEMO_ACCOUNTS)}) == 1
    issuer = app.config["ISSUER"].rstrip("/")
    assert f"The console is at {issuer}/admin/: " in first.stdout
    assert "ISSUER" not in first.stdout
    with app.app_context():
        assert db.session.query(Unit).count() == 704
        assert db.session.query(User).count() == 9800
        with_password = db.session.execute(
            sa.select(User.email).where(User.password_hash.is_not(None))
        )
        assert sorted(with_password.scalars()) == sorted(a.email for a in DEMO_ACCOUNTS)
        subs = dict(db.session.execute(sa.select(User.email, User.sub)).all())
    # The import's bulk writes keep every folded name: the search finds people by name.
    assert stale_search_names(app) == []
    civil_servant_email = DEMO_ACCOUNTS[1].email
    assert civil_servant_email in found_by(app, "nguyen thi minh thu")

    second = runner.invoke(demo_group, ["seed", "--json"])
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert (report["units"]["unchanged"], report["units"]["changed"]) == (704, False)
    assert (report["users"]["unchanged"], report["users"]["changed"]) == (9800, False)
    assert [a["password_set_now"] for a in report["accounts"]] == [False, False, False]
    with app.app_context():
        assert dict(db.session.execute(sa.select(User.email, User.sub)).all()) == subs

    admin, civil_servant, _unit_admin = DEMO_ACCOUNTS
    assert (
        auth.login(email=civil_servant.aliases.upper(), password=civil_servant.password).status_code
        == 302
    )
    page = client.get("/account/").get_data(as_text=True)
    assert "Nguyễn Thị Minh Thư" in page
    auth.logout()
    assert auth.login(email=admin.email, password=admin.password).status_code == 302
    console = app.test_client()
    make_admin(app, make_user, console)
    page = console.get("/admin/people?q=nguyen+thi+minh+thu").get_data(as_text=True)
    assert "Nguyễn Thị Minh Thư" in page


def test_seed_restores_a_changed_demo_password(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    runner.invoke(demo_group, ["seed"])
    email = DEMO_ACCOUNTS[1].email
    changed = runner.invoke(
        args=["users", "set-password", email, "--password-stdin"], input="Một-mật-khẩu-khác-2026\n"
    )
    assert changed.exit_code == 0
    report = json.loads(runner.invoke(demo_group, ["seed", "--json"]).stdout)
    assert [a["password_set_now"] for a in report["accounts"]] == [False, True, False]


def test_exported_csv_files_import_to_the_same_directory(sqlite_app, tmp_path):
    runner = sqlite_app.test_cli_runner()
    exported = runner.invoke(demo_group, ["export", str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "users.csv").read_bytes().startswith(b"\xef\xbb\xbfemail,aliases,full_name,")
    units = runner.invoke(args=["units", "import", str(tmp_path / "units.csv"), "--json"])
    users = runner.invoke(args=["directory", "import", str(tmp_path / "users.csv"), "--json"])
    assert json.loads(units.stdout)["created"] == 704
    assert json.loads(users.stdout)["created"] == 9800
    seeded = json.loads(runner.invoke(demo_group, ["seed", "--json"]).stdout)
    assert seeded["units"]["changed"] is False and seeded["users"]["changed"] is False


def test_seed_refuses_production(sqlite_app):
    sqlite_app.config["ENV"] = "production"
    result = sqlite_app.test_cli_runner().invoke(demo_group, ["seed"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: refusing to load demo accounts with published passwords in production"
    )
    with sqlite_app.app_context():
        assert db.session.query(User).count() == 0


def test_export_to_a_file_path_is_one_line_error(sqlite_app, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    result = sqlite_app.test_cli_runner().invoke(demo_group, ["export", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(f"Error: cannot write to {blocker / 'sub'}")


def test_the_idp_command_has_the_demo_group_from_its_entry_point():
    # As a person runs it: the installed `idp`, which finds the group through Flask's
    # `flask.commands` entry point of demo/pyproject.toml (the provider never imports it).
    found = subprocess.run(
        [sys.executable, "-m", "idp.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    for command in ("seed", "export", "run"):
        assert f"  {command} " in found.stdout


def test_seed_makes_the_demo_unit_administrator_of_a_district(app, runner):
    from idp.admin import permissions
    from idp.directory.store import find_user_by_address

    seeded = runner.invoke(demo_group, ["seed"])
    assert seeded.exit_code == 0, seeded.output
    unit_admin = DEMO_ACCOUNTS[2]
    assert f"{'admin of VT':<14} {unit_admin.email}" in seeded.stdout
    assert "/admin/" in seeded.stdout
    runner.invoke(demo_group, ["seed"])  # twice: still one grant
    with app.app_context():
        person = find_user_by_address(unit_admin.email)
        scope = permissions.scope_for_user(person)
        assert scope is not None and not scope.is_super
        assert [u.code for u in permissions.administered_units(person)] == ["VT"]
        # Its whole district, and nothing of another one.
        codes = set(
            db.session.execute(sa.select(Unit.code).where(Unit.id.in_(scope.unit_ids))).scalars()
        )
        assert "VT-VP" in codes and "VT-PVII" in codes and "VTY" not in codes
        admin = find_user_by_address(DEMO_ACCOUNTS[0].email)
        assert permissions.scope_for_user(admin).is_super
