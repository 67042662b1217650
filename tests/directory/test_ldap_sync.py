"""`idp directory sync` against a real OpenLDAP (Debian's slapd), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import unicodedata

import pytest
import sqlalchemy as sa
from helpers.search import found_by, stale_search_names
from helpers.slapd import DOMAIN, LdapTree, people

from idp.audit import AuditEvent
from idp.directory import hooks
from idp.directory.models import User, UserEmail
from idp.extensions import db

PERSONS = 300


@pytest.fixture
def tree(slapd):
    return LdapTree.load(slapd, people(PERSONS))


@pytest.fixture
def app_config(tree):
    return tree.settings()


@pytest.fixture
def units(make_unit):
    for code in ("STC", "SNV", "SYT", "VT"):
        make_unit(code)
    make_unit("VT-PTP", parent="VT", kind="office")


def sync(runner, *args: str):
    result = runner.invoke(args=["directory", "sync", "--json", *args])
    data = json.loads(result.stdout) if result.stdout.startswith("{") else None
    return result, data


def user_by_address(app, address: str) -> User:
    with app.app_context():
        user = db.session.execute(
            sa.select(User).join(UserEmail).where(UserEmail.address == address)
        ).scalar_one()
        db.session.expunge(user)
        return user


def addresses_of(app, user_id: int) -> set[str]:
    with app.app_context():
        return set(
            db.session.execute(
                sa.select(UserEmail.address).where(UserEmail.user_id == user_id)
            ).scalars()
        )


def sync_events(app) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEvent)
                .where(AuditEvent.action == "directory.sync")
                .order_by(AuditEvent.id)
            ).scalars()
        )


def test_first_sync_mirrors_the_directory_and_the_second_changes_nothing(app, runner, tree, units):
    result, data = sync(runner)
    assert result.exit_code == 0, result.output
    locked = sum(p.locked for p in tree.persons)
    assert data["entries"] == PERSONS and data["created"] == PERSONS and not data["rejected"]
    with app.app_context():
        assert db.session.query(User).count() == PERSONS
        assert db.session.query(User).filter_by(status="disabled").count() == locked
        assert db.session.query(UserEmail).count() == PERSONS + sum(
            len(p.aliases) for p in tree.persons
        )
    # Names stored in NFC whether the entry had them composed or decomposed.
    nfd_person = next(p for p in tree.persons if p.nfd and not p.name.isascii())
    stored = user_by_address(app, nfd_person.mail)
    assert unicodedata.is_normalized("NFC", stored.family_name + stored.given_name)
    assert " ".join([stored.family_name, stored.middle_name, stored.given_name]) == nfd_person.name
    assert stored.source == "ldap" and len(stored.external_id) == 36
    # Searchable by name without diacritics, like people created one by one.
    assert stale_search_names(app) == []
    assert nfd_person.mail in found_by(app, stored.search_name)
    # Units from the OU path: nearest OU as the code, or the path through LDAP_UNIT_MAP.
    ptp = next(p for p in tree.persons if p.unit_path == "VT/PTP")
    with app.app_context():
        assert db.session.get(User, user_by_address(app, ptp.mail).id).unit.code == "VT-PTP"

    again, data = sync(runner)
    assert again.exit_code == 0, again.output
    assert data["unchanged"] == PERSONS and not data["changed"]
    text = runner.invoke(args=["directory", "sync"])
    assert "Nothing changed: the directory already matches the source." in text.stdout
    events = sync_events(app)
    assert len(events) == 3 and events[0].outcome == "success"
    assert events[0].actor.startswith("cli:") and events[0].detail["created"] == PERSONS


def test_dry_run_prints_the_differences_and_writes_nothing(app, runner, tree, units):
    result = runner.invoke(args=["directory", "sync", "--dry-run"])
    assert result.exit_code == 0, result.output
    first = tree.persons[0]
    assert f"create {first.mail} ({first.name})" in result.stdout
    assert "Dry run: nothing was written." in result.stdout
    with app.app_context():
        assert db.session.query(User).count() == 0
    assert sync_events(app) == []


def test_changes_in_the_source_follow_and_keep_the_sub(app, runner, tree, units):
    assert sync(runner)[0].exit_code == 0
    mover, renamed, aliased = tree.persons[0], tree.persons[1], tree.persons[3]
    before = {p.uid: user_by_address(app, p.mail) for p in (mover, renamed, aliased)}
    server = tree.server
    # Moved to another OU (a new DN, the same entryUUID), a new name, title and mail.
    server.ldap("ldapmodrdn", "-s", f"ou=SNV,{tree.base}", tree.dn(mover), f"uid={mover.uid}")
    new_mail = f"renamed.{renamed.uid}@{DOMAIN}"
    server.modify(
        f"dn: {tree.dn(renamed)}\nchangetype: modify\nreplace: cn\ncn: Lê Thị Hồng Nhung\n-\n"
        f"replace: title\ntitle: Giám đốc\n-\nreplace: mail\nmail: {new_mail}\n\n"
        f"dn: {tree.dn(aliased)}\nchangetype: modify\ndelete: mail\nmail: {aliased.aliases[0]}\n-\n"
        f"add: mail\nmail: second.{aliased.uid}@{DOMAIN}\n"
    )
    result, data = sync(runner)
    assert result.exit_code == 0, result.output
    assert (data["updated"], data["moved"], data["aliases_added"], data["aliases_removed"]) == (
        3,
        1,
        2,
        2,
    )
    moved = user_by_address(app, mover.mail)
    assert moved.sub == before[mover.uid].sub
    with app.app_context():
        assert db.session.get(User, moved.id).unit.code == "SNV"
    now_renamed = user_by_address(app, new_mail)
    assert now_renamed.sub == before[renamed.uid].sub
    assert (now_renamed.family_name, now_renamed.middle_name, now_renamed.given_name) == (
        "Lê",
        "Thị Hồng",
        "Nhung",
    )
    assert now_renamed.title == "Giám đốc"
    assert new_mail in found_by(app, "le thi hong nhung")
    assert stale_search_names(app) == []
    assert addresses_of(app, now_renamed.id) == {new_mail}
    assert addresses_of(app, before[aliased.uid].id) == {
        aliased.mail,
        f"second.{aliased.uid}@{DOMAIN}",
    }


def test_gone_and_locked_people_are_disabled_with_their_sign_ins_and_never_deleted(
    app, runner, tree, units
):
    assert sync(runner)[0].exit_code == 0
    gone, locked, local = tree.persons[0], tree.persons[1], tree.persons[2]
    with app.app_context():
        # An administrator disabled this one here: the sync does not enable them again.
        db.session.execute(
            sa.update(User)
            .where(User.id == user_by_address(app, local.mail).id)
            .values(status="disabled")
        )
        db.session.commit()
    withdrawn: list[list[int]] = []

    def receiver(_sender, user_ids, reason):
        withdrawn.append(list(user_ids))
        return 0

    hooks.sign_ins_withdrawn.connect(receiver)
    try:
        tree.server.ldap("ldapdelete", tree.dn(gone))
        tree.server.modify(
            f"dn: {tree.dn(locked)}\nchangetype: modify\nadd: pwdAccountLockedTime\n"
            "pwdAccountLockedTime: 000001010000Z\n"
        )
        result, data = sync(runner)
    finally:
        hooks.sign_ins_withdrawn.disconnect(receiver)
    assert result.exit_code == 0, result.output
    assert data["disabled"] == 2
    ids = {user_by_address(app, p.mail).id for p in (gone, locked)}
    assert withdrawn == [sorted(ids)] or set(withdrawn[0]) == ids
    assert {user_by_address(app, p.mail).status for p in (gone, locked, local)} == {"disabled"}
    with app.app_context():
        assert db.session.query(User).count() == PERSONS

    # Unlocked in the source: enabled again; the locally disabled one stays disabled.
    tree.server.modify(f"dn: {tree.dn(locked)}\nchangetype: modify\ndelete: pwdAccountLockedTime\n")
    result, data = sync(runner)
    assert data["enabled"] == 1, result.output
    assert user_by_address(app, locked.mail).status == "active"
    assert user_by_address(app, local.mail).status == "disabled"


def test_existing_accounts_are_linked_by_address_and_keep_their_sub(
    app, runner, tree, units, make_user
):
    person = tree.persons[0]
    sub = make_user(person.mail, password="Mật khẩu cũ của tôi 2026")
    result, data = sync(runner)
    assert result.exit_code == 0, result.output
    assert data["created"] == PERSONS - 1
    linked = user_by_address(app, person.mail)
    assert linked.sub == sub and linked.source == "ldap" and linked.password_hash


def test_bad_entries_are_rejected_and_their_people_not_disabled(app, runner, tree, units):
    assert sync(runner)[0].exit_code == 0
    first, second, third = tree.persons[0], tree.persons[1], tree.persons[2]
    tree.server.modify(
        # Two entries with the same address, and an entry whose mail is gone.
        f"dn: {tree.dn(second)}\nchangetype: modify\nadd: mail\nmail: {first.mail}\n\n"
        f"dn: {tree.dn(third)}\nchangetype: modify\ndelete: mail\n"
    )
    result, data = sync(runner)
    assert result.exit_code == 3, result.output
    reasons = {r["dn"]: r["reason"] for r in data["rejections"]}
    assert reasons[tree.dn(third)] == "no mail address"
    assert f"address {first.mail} is also on" in reasons[tree.dn(first)]
    assert f"address {first.mail} is also on" in reasons[tree.dn(second)]
    assert {user_by_address(app, p.mail).status for p in (first, second, third)} == {"active"}
    assert sync_events(app)[-1].outcome == "partial"


def test_a_source_that_suddenly_returns_nothing_disables_nobody(app, runner, tree, units):
    assert sync(runner)[0].exit_code == 0
    runner.app.config["LDAP_FILTER"] = "(uid=nobody-at-all)"
    result = runner.invoke(args=["directory", "sync"])
    assert result.exit_code == 5, result.output
    assert "would disable" in result.stderr and "--force" in result.stderr
    with app.app_context():
        assert db.session.query(User).filter_by(status="disabled").count() == sum(
            p.locked for p in tree.persons
        )
    assert sync_events(app)[-1].outcome == "refused"
    # A dry run shows what would go, and that a real run would stop.
    dry = runner.invoke(args=["directory", "sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"disable {tree.persons[0].mail} (gone from the source)" in dry.stdout
    assert "Without --force a real run would stop" in dry.stdout
    # Below the threshold a few departures go through; with --force, all.
    forced = runner.invoke(args=["directory", "sync", "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert db.session.query(User).filter_by(status="active").count() == 0


def test_a_refused_bind_fails_the_run_and_writes_nothing(app, runner, tree, units):
    runner.app.config["LDAP_BIND_PASSWORD"] = "not the service password"
    result = runner.invoke(args=["directory", "sync"])
    assert result.exit_code == 1
    assert "refused the bind" in result.stderr and "not the service" not in result.stderr
    with app.app_context():
        assert db.session.query(User).count() == 0
    event = sync_events(app)[-1]
    assert event.outcome == "failure" and "refused the bind" in event.detail["error"]


def test_two_syncs_never_overlap(app, runner, tree, units):
    from idp.directory.ldap import lock

    with app.app_context():
        assert lock.acquire("another-host:1:x", 1800) is None
    result = runner.invoke(args=["directory", "sync"])
    assert result.exit_code == 4 and "another sync is running" in result.stderr
    with app.app_context():
        assert db.session.query(User).count() == 0
        # A holder older than the stale limit is taken to have died.
        assert lock.acquire("me:2:y", 0) is None
        lock.release("me:2:y")
    assert runner.invoke(args=["directory", "sync"]).exit_code == 0


def test_the_password_comes_from_a_file(app, runner, tree, units, tmp_path):
    secret = tmp_path / "ldap-password"
    secret.write_text(runner.app.config["LDAP_BIND_PASSWORD"] + "\n")
    runner.app.config.update(LDAP_BIND_PASSWORD="", LDAP_BIND_PASSWORD_FILE=str(secret))
    assert runner.invoke(args=["directory", "sync"]).exit_code == 0
    runner.app.config["LDAP_BIND_PASSWORD_FILE"] = str(tmp_path / "missing")
    result = runner.invoke(args=["directory", "sync"])
    assert result.exit_code == 1 and "IDP_LDAP_BIND_PASSWORD_FILE" in result.stderr


def test_a_progress_count_on_a_terminal_only(sqlite_app, tree, tmp_path):
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    app, runner = sqlite_app, sqlite_app.test_cli_runner()
    units_csv = tmp_path / "units.csv"
    units_csv.write_text("code,name,parent_code\nSTC,a,\nSNV,b,\nSYT,c,\nVT,d,\nVT-PTP,e,VT\n")
    assert runner.invoke(args=["units", "import", str(units_csv)]).exit_code == 0
    plain = runner.invoke(args=["directory", "sync", "--dry-run"])
    assert "Reading the LDAP directory" not in plain.output
    env = {
        **os.environ,
        "IDP_DATABASE_URL": app.config["DATABASE_URL"],
        **{
            f"IDP_{k}": json.dumps(v) if not isinstance(v, str) else v
            for k, v in tree.settings().items()
        },
    }
    idp = Path(sys.executable).with_name("idp")
    leader, follower = pty.openpty()
    output = b""
    try:
        # Read while it runs: a terminal's buffer is small, a writer waits for its reader.
        process = subprocess.Popen(
            [str(idp), "directory", "sync", "--dry-run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
        )
        os.close(follower)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=300) == 0
    finally:
        os.close(leader)
    assert b"Reading the LDAP directory" in output


def test_a_person_gone_from_the_source_is_signed_out_everywhere(app, runner, tree, units):
    from helpers.pages import sign_in
    from helpers.slapd import PERSON_PASSWORD

    from idp.sessions.models import SsoSession

    assert sync(runner)[0].exit_code == 0
    app.config["LDAP_PASSWORD_CHECK"] = "migrate"
    person = tree.persons[0]
    browser = app.test_client()
    assert sign_in(browser, person.mail, PERSON_PASSWORD).status_code == 302
    user_id = user_by_address(app, person.mail).id
    with app.app_context():
        session = db.session.execute(
            sa.select(SsoSession).where(SsoSession.user_id == user_id)
        ).scalar_one()
        assert session.ended_at is None
    tree.server.ldap("ldapdelete", tree.dn(person))
    result, data = sync(runner)
    assert result.exit_code == 0 and data["disabled"] == 1, result.output
    with app.app_context():
        session = db.session.execute(
            sa.select(SsoSession).where(SsoSession.user_id == user_id)
        ).scalar_one()
        assert session.ended_at is not None and session.end_reason == "user_disabled"
    # And the account can no longer sign in, with LDAP's password or the stored one.
    assert sign_in(app.test_client(), person.mail, PERSON_PASSWORD).status_code == 401
