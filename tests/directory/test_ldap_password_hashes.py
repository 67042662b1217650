"""The sync brings the hashes the mail system stores in userPassword (issue 12): people sign
in with their mail password, the hash becomes argon2id, and a re-sync never brings the legacy
hash back. Real slapd, hashes made by slappasswd and openssl, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from base64 import b64encode

import pytest
import sqlalchemy as sa
from helpers import hashtools
from helpers.slapd import LdapTree, people

from idp.directory.models import User, UserEmail
from idp.extensions import db

PASSWORD = "Mật khẩu thư cũ 2019!"
MALFORMED = "{SSHA}LMROLWtRDgSS"
PERSONS = 6


@pytest.fixture
def persons():
    made = people(PERSONS, units=[("STC", "STC")])
    made[0].user_password = hashtools.slappasswd(PASSWORD, "{SSHA}")
    made[1].user_password = hashtools.slappasswd(PASSWORD, "{SSHA512}")
    made[2].user_password = "{CRYPT}" + hashtools.openssl_crypt(PASSWORD, "-6")
    made[3].user_password = hashtools.slappasswd_crypt(PASSWORD, "$6$")
    made[4].user_password = MALFORMED
    for person in made:
        person.locked = False
    return made


@pytest.fixture
def flavour():
    return "openldap"


@pytest.fixture
def tree(slapd, persons, flavour):
    return LdapTree.load(slapd, persons, flavour)


@pytest.fixture
def app_config(tree):
    return tree.settings()


@pytest.fixture
def units(make_unit):
    make_unit("STC")


def sync(runner, *args: str) -> dict:
    result = runner.invoke(args=["directory", "sync", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored_hash(app, address: str) -> str | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(User.password_hash).join(UserEmail).where(UserEmail.address == address)
        )


def test_people_sign_in_with_their_mail_password_and_a_re_sync_keeps_argon2id(
    app, runner, auth, tree, units
):
    data = sync(runner)
    assert data["created"] == PERSONS and data["passwords_set"] == 4
    malformed, plain = tree.persons[4], tree.persons[5]
    assert data["notes"] == [
        {"dn": tree.dn(malformed), "note": data["notes"][0]["note"]},
        {"dn": tree.dn(plain), "note": data["notes"][1]["note"]},
    ]
    assert "malformed or truncated ssha hash" in data["notes"][0]["note"]
    assert "not a password hash of a known scheme" in data["notes"][1]["note"]
    assert f"password {tree.persons[0].mail}: ssha hash from the source" in data["changes"]
    # The person whose hash was malformed is mirrored all the same, without a password.
    assert stored_hash(app, malformed.mail) is None and stored_hash(app, plain.mail) is None

    for person in tree.persons[:4]:
        legacy = stored_hash(app, person.mail)
        assert legacy and not legacy.startswith("$argon2")
        assert auth.login(email=person.mail, password="không phải mật khẩu").status_code == 401
        assert stored_hash(app, person.mail) == legacy
        assert auth.login(email=person.mail, password=PASSWORD).status_code == 302
        assert stored_hash(app, person.mail).startswith("$argon2id$")
        auth.logout()

    signed_in = {p.mail: stored_hash(app, p.mail) for p in tree.persons[:4]}
    again = sync(runner)
    assert again["passwords_set"] == 0 and again["unchanged"] == PERSONS and not again["changed"]
    assert {m: stored_hash(app, m) for m in signed_in} == signed_in
    # Even when the mail password changes afterwards: the password set here stays.
    first = tree.persons[0]
    newer = hashtools.slappasswd("Mật khẩu mới 2026!", "{SSHA}")
    tree.server.modify(
        f"dn: {tree.dn(first)}\nchangetype: modify\nreplace: userPassword\nuserPassword: {newer}\n"
    )
    assert sync(runner)["passwords_set"] == 0
    assert stored_hash(app, first.mail) == signed_in[first.mail]
    assert auth.login(email=first.mail, password=PASSWORD).status_code == 302


def test_a_changed_mail_password_follows_until_the_first_sign_in(app, runner, auth, tree, units):
    sync(runner)
    person = tree.persons[0]
    before = stored_hash(app, person.mail)
    newer = hashtools.slappasswd("Mật khẩu mới 2026!", "{SSHA512}")
    tree.server.modify(
        f"dn: {tree.dn(person)}\nchangetype: modify\nreplace: userPassword\nuserPassword: {newer}\n"
    )
    data = sync(runner)
    assert data["passwords_set"] == 1 and data["updated"] == 0
    assert data["changes"] == [f"password {person.mail}: ssha512 hash from the source"]
    assert stored_hash(app, person.mail) == newer != before
    assert auth.login(email=person.mail, password=PASSWORD).status_code == 401
    assert auth.login(email=person.mail, password="Mật khẩu mới 2026!").status_code == 302


def test_a_malformed_hash_later_fixed_in_the_source_is_taken(app, runner, tree, units):
    person = tree.persons[4]
    sync(runner)
    assert stored_hash(app, person.mail) is None
    good = hashtools.slappasswd(PASSWORD)
    tree.server.modify(
        f"dn: {tree.dn(person)}\nchangetype: modify\nreplace: userPassword\nuserPassword: {good}\n"
    )
    assert sync(runner)["passwords_set"] == 1
    assert stored_hash(app, person.mail) == good


def test_a_value_that_is_no_text_is_a_note(app, runner, tree, units):
    person = tree.persons[4]
    raw = b64encode(b"{SSHA}\xff\xfe\x00binary").decode()
    tree.server.modify(
        f"dn: {tree.dn(person)}\nchangetype: modify\nreplace: userPassword\nuserPassword:: {raw}\n"
    )
    data = sync(runner)
    assert data["created"] == PERSONS
    assert {"dn": tree.dn(person), "note": "userPassword is not text: no password hash taken"} in (
        data["notes"]
    )
    assert stored_hash(app, person.mail) is None


def test_no_hashes_when_the_setting_says_so(app, runner, tree, units):
    app.config["LDAP_SYNC_PASSWORD_HASHES"] = False
    data = sync(runner)
    assert data["created"] == PERSONS and data["passwords_set"] == 0 and not data["notes"]
    assert all(stored_hash(app, p.mail) is None for p in tree.persons)


def test_a_map_without_the_attribute_reads_no_hashes(app, runner, tree, units):
    app.config["LDAP_ATTRIBUTES"] = {"password_hash": ""}
    data = sync(runner)
    assert data["passwords_set"] == 0 and not data["notes"]
    assert all(stored_hash(app, p.mail) is None for p in tree.persons)


def test_a_linked_account_with_a_password_set_here_keeps_it(app, runner, make_user, tree, units):
    person = tree.persons[0]
    make_user(person.mail, "Mật khẩu đặt tại đây 1!")
    here = stored_hash(app, person.mail)
    data = sync(runner)
    assert data["created"] == PERSONS - 1 and data["passwords_set"] == 3
    assert stored_hash(app, person.mail) == here


@pytest.mark.parametrize("flavour", ["zimbra"])
def test_zimbra_keeps_ssha512_in_user_password(app, runner, auth, tree, units):
    person = tree.persons[1]
    data = sync(runner)
    assert data["passwords_set"] == 4
    assert stored_hash(app, person.mail).startswith("{SSHA512}")
    assert auth.login(email=person.mail, password=PASSWORD).status_code == 302
