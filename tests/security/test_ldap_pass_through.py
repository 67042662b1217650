"""Bind pass-through against a real slapd: empty passwords, LDAP injection, a slow server,
throttling, and the LDAP answer winning in "always" mode."""

from __future__ import annotations

import subprocess
import time

import pytest
import sqlalchemy as sa
from helpers.hostile_peers import SilentListener
from helpers.pages import sign_in
from helpers.slapd import PERSON_PASSWORD, LdapTree, people

from idp.audit import AuditEvent
from idp.directory.ldap.bind import check_with_source
from idp.directory.ldap.config import ldap_settings
from idp.directory.ldap.source import check_password, id_filter
from idp.directory.models import User, UserEmail
from idp.extensions import db
from idp.interaction.service import begin_sign_in, finish_sign_in
from idp.sessions.models import LoginThrottle

WRONG = "Không phải mật khẩu này"


@pytest.fixture
def tree(slapd):
    return LdapTree.load(slapd, people(12))


@pytest.fixture
def app_config(tree):
    return tree.settings(LDAP_PASSWORD_CHECK="migrate")


@pytest.fixture
def synced(app, make_unit, tree):
    for code in ("STC", "SNV", "SYT", "VT"):
        make_unit(code)
    make_unit("VT-PTP", parent="VT", kind="office")
    result = app.test_cli_runner().invoke(args=["directory", "sync"])
    assert result.exit_code == 0, result.output
    return [p for p in tree.persons if not p.locked]


def stored(app, address: str) -> User:
    with app.app_context():
        user = db.session.execute(
            sa.select(User).join(UserEmail).where(UserEmail.address == address)
        ).scalar_one()
        db.session.expunge(user)
        return user


def test_first_sign_in_binds_then_keeps_the_password_as_argon2id(app, client, synced):
    person = synced[0]
    assert stored(app, person.mail).password_hash is None
    assert sign_in(client, person.mail, WRONG).status_code == 401
    assert stored(app, person.mail).password_hash is None
    response = sign_in(client, person.mail, PERSON_PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert stored(app, person.mail).password_hash.startswith("$argon2id$")
    # From now on checked locally ("migrate"): it works with the LDAP server gone.
    silent = SilentListener()
    try:
        app.config["LDAP_URL"] = f"ldap://127.0.0.1:{silent.port}"
        other = app.test_client()
        assert sign_in(other, person.mail, PERSON_PASSWORD).status_code == 302
    finally:
        silent.close()


def test_always_mode_lets_the_ldap_answer_win(app, client, synced, tree):
    app.config["LDAP_PASSWORD_CHECK"] = "always"
    person = synced[1]
    assert sign_in(client, person.mail, PERSON_PASSWORD).status_code == 302
    changed = "Mật khẩu mới của thư 2026"
    tree.server.modify(
        f"dn: {tree.dn(person)}\nchangetype: modify\nreplace: userPassword\n"
        f"userPassword: {changed}\n"
    )
    fresh = app.test_client()
    # The old password still matches the local hash, but LDAP says no: refused.
    assert sign_in(fresh, person.mail, PERSON_PASSWORD).status_code == 401
    assert sign_in(fresh, person.mail, changed).status_code == 302
    with app.test_request_context():
        from idp.directory.passwords import verify_password

        assert verify_password(stored(app, person.mail).password_hash, changed)


def test_an_empty_password_is_never_sent_as_a_bind(app, synced, tree):
    person = synced[2]
    # The danger is real: slapd answers an empty-password simple bind as anonymous success.
    whoami = subprocess.run(
        ["ldapwhoami", "-x", "-H", tree.server.url, "-D", tree.dn(person), "-w", ""],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert whoami.returncode == 0 and "anonymous" in whoami.stdout
    with app.test_request_context():
        user = db.session.get(User, stored(app, person.mail).id)
        assert check_with_source(user, "") is False
        attempt = begin_sign_in(person.mail, ip="192.0.2.7")
        assert finish_sign_in(attempt, "").user is None
        assert stored(app, person.mail).password_hash is None
    # And no connection is even opened for it: a server that never answers is not waited on.
    silent = SilentListener()
    try:
        app.config.update(LDAP_URL=f"ldap://127.0.0.1:{silent.port}", LDAP_TIMEOUT_SECONDS=5)
        with app.test_request_context():
            started = time.monotonic()
            assert check_with_source(db.session.get(User, user.id), "") is False
            assert time.monotonic() - started < 1
    finally:
        silent.close()


@pytest.mark.parametrize("typed", ["*", "*)(mail=*", "u00001*", "(|(uid=*))", "\\2a"])
def test_ldap_filter_syntax_in_the_username_finds_no_one(app, synced, typed):
    # The typed name is looked up in our own table, never put into an LDAP filter.
    response = sign_in(app.test_client(), typed, PERSON_PASSWORD)
    assert response.status_code in (400, 401)
    assert "Location" not in response.headers


def test_identifiers_are_escaped_in_the_search_filter(app, synced):
    person = synced[3]
    real = stored(app, person.mail).external_id
    with app.app_context():
        settings = ldap_settings(app.config)
        crafted = f"{real})(entryUUID=*"
        assert "\\29\\28" in id_filter(settings, crafted) and "\\2a" in id_filter(settings, "*")
        assert check_password(settings, real, PERSON_PASSWORD) is True
        # Unescaped, the crafted value would still find the entry and bind as it.
        assert check_password(settings, crafted, PERSON_PASSWORD) is False
        assert check_password(settings, "*", PERSON_PASSWORD) is False


def test_a_slow_ldap_server_means_try_again_later_and_no_lock_out(app, client, synced):
    person = synced[4]
    silent = SilentListener()
    try:
        app.config.update(LDAP_URL=f"ldap://127.0.0.1:{silent.port}", LDAP_TIMEOUT_SECONDS=1)
        free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
        for _ in range(free + 2):
            started = time.monotonic()
            response = sign_in(client, person.mail, PERSON_PASSWORD)
            assert time.monotonic() - started < 5
            assert response.status_code == 503
            assert "thử lại sau" in response.get_data(as_text=True)
            assert response.headers["Retry-After"] == "60"
    finally:
        silent.close()
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.sum(LoginThrottle.failures))).scalar() in (
            None,
            0,
        )
        outcomes = db.session.execute(
            sa.select(AuditEvent.outcome).where(AuditEvent.action == "login")
        ).scalars()
        assert set(outcomes) == {"unavailable"}
    assert stored(app, person.mail).password_hash is None


def test_wrong_passwords_through_ldap_are_throttled_like_local_ones(app, client, synced):
    person = synced[5]
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    codes = [sign_in(client, person.mail, WRONG).status_code for _ in range(free + 2)]
    assert codes[:free] == [401] * free and 429 in codes[free:]
