"""Password hashes the LDAP sync reads never leave the database: not in the --dry-run or
--json output, not in the summary's notes, not in the audit log, not in the application log;
a hash (good or hostile) is never itself a password; and a hash written into the directory
never replaces a password set here. Real slapd, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from helpers import hashtools
from helpers.slapd import LdapTree, people

from idp.audit import AuditEvent
from idp.directory.models import User, UserEmail
from idp.extensions import db

PASSWORD = "Mật khẩu thư cũ 2019!"
# Values a person who can edit their own entry (or a broken mail system) might store.
HOSTILE = [
    "{SSHA}LMROLWtRDgSSsecretpiece",
    "{CRYPT}$6$rounds=999999999$saltsaltsalt$" + "A" * 86,
    "{CLEARTEXT}" + PASSWORD,
    "{SSHA512}not*base64*at*all*secretpiece",
    "$2y$31$" + "B" * 53,
    "{MD5}X03MO1qnZdYdgyfeuILPmQ==",
]


@pytest.fixture
def tree(slapd):
    made = people(2 + len(HOSTILE), units=[("STC", "STC")])
    made[0].user_password = hashtools.slappasswd(PASSWORD, "{SSHA}")
    made[1].user_password = "{CRYPT}" + hashtools.openssl_crypt(PASSWORD, "-6")
    for person, value in zip(made[2:], HOSTILE, strict=True):
        person.user_password = value
    for person in made:
        person.locked = False
    return LdapTree.load(slapd, made)


@pytest.fixture
def app_config(tree):
    return tree.settings()


@pytest.fixture
def units(make_unit):
    make_unit("STC")


def secrets_of(tree: LdapTree) -> list[str]:
    """Each stored value, and each piece of it long enough to be recognised."""
    found = []
    for person in tree.persons:
        value = person.user_password or ""
        found.append(value)
        found.extend(p for p in value.replace("}", "$").split("$") if len(p) >= 12)
    return found


def assert_absent(text: str, tree: LdapTree) -> None:
    for secret in secrets_of(tree):
        assert secret not in text


def test_no_hash_in_the_output_the_summary_the_audit_log_or_the_log(
    app, runner, tree, units, caplog
):
    caplog.set_level(logging.DEBUG)
    dry = runner.invoke(args=["directory", "sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "password " in dry.stdout and "note: " in dry.stdout
    assert_absent(dry.output, tree)
    dry_json = runner.invoke(args=["directory", "sync", "--dry-run", "--json"])
    data = json.loads(dry_json.stdout)
    assert data["passwords_set"] == 2 and len(data["notes"]) == len(HOSTILE)
    assert_absent(dry_json.output, tree)

    real = runner.invoke(args=["directory", "sync", "--json"])
    assert real.exit_code == 0, real.output
    assert json.loads(real.stdout)["passwords_set"] == 2
    assert_absent(real.output, tree)
    text = runner.invoke(args=["directory", "sync"])
    assert_absent(text.output, tree)
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent)).all()
        assert any(e.detail.get("notes") for e in events if e.action == "directory.sync")
        assert_absent(json.dumps([e.detail for e in events], ensure_ascii=False), tree)
    assert_absent(caplog.text, tree)
    # Nobody with a hostile value got a password.
    with app.app_context():
        hashes = db.session.scalars(sa.select(User.password_hash)).all()
        assert sorted(h is None for h in hashes) == [False] * 2 + [True] * len(HOSTILE)


def test_the_hash_itself_is_never_a_password(app, runner, auth, tree, units):
    assert runner.invoke(args=["directory", "sync"]).exit_code == 0
    for person in tree.persons[:2]:
        stored = person.user_password or ""
        assert auth.login(email=person.mail, password=stored).status_code == 401
        body = stored.split("}", 1)[-1]
        assert auth.login(email=person.mail, password=body).status_code == 401
    # The clear-text value is refused at the sync, so typing it does not sign in either.
    clear = tree.persons[2 + HOSTILE.index("{CLEARTEXT}" + PASSWORD)]
    assert auth.login(email=clear.mail, password=PASSWORD).status_code == 401


def test_a_hash_written_into_the_directory_never_replaces_a_password_set_here(
    app, runner, auth, tree, units
):
    """Whoever can write an entry's userPassword (a mail administrator, a self-service page)
    must not be able to take over an account that already has its own password here."""
    victim = tree.persons[0]
    assert runner.invoke(args=["directory", "sync"]).exit_code == 0
    assert auth.login(email=victim.mail, password=PASSWORD).status_code == 302
    auth.logout()
    planted = hashtools.slappasswd("Mật khẩu kẻ gian 1!", "{SSHA}")
    tree.server.modify(
        f"dn: {tree.dn(victim)}\nchangetype: modify\nreplace: userPassword\n"
        f"userPassword: {planted}\n"
    )
    assert runner.invoke(args=["directory", "sync"]).exit_code == 0
    assert auth.login(email=victim.mail, password="Mật khẩu kẻ gian 1!").status_code == 401
    assert auth.login(email=victim.mail, password=PASSWORD).status_code == 302
    with app.app_context():
        stored = db.session.scalar(
            sa.select(User.password_hash).join(UserEmail).where(UserEmail.address == victim.mail)
        )
        assert stored.startswith("$argon2id$")
