"""The sync against sources that fail (a hanging server, one that goes away in the middle of
the paged search), the Zimbra schema, and Active Directory's attributes."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import sqlalchemy as sa
from helpers.hostile_peers import SilentListener
from helpers.slapd import LdapTree, people, start_slapd

from idp.audit import AuditEvent
from idp.directory.fields import FieldError
from idp.directory.ldap.attributes import PRESETS, entry_from_ldap
from idp.directory.ldap.config import ldap_settings
from idp.directory.ldap.source import SourceUnavailable, read_entries
from idp.directory.ldap.sync import sync_directory
from idp.directory.models import User, UserEmail
from idp.extensions import db


@pytest.fixture
def units(make_unit):
    for code in ("STC", "SNV", "SYT", "VT"):
        make_unit(code)
    make_unit("VT-PTP", parent="VT", kind="office")


def failures(app) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEvent).where(
                    AuditEvent.action == "directory.sync", AuditEvent.outcome == "failure"
                )
            ).scalars()
        )


def test_a_server_that_never_answers_fails_the_run_within_the_deadline(app, runner, units):
    silent = SilentListener()
    try:
        runner.app.config.update(
            LDAP_URL=f"ldap://127.0.0.1:{silent.port}",
            LDAP_START_TLS=False,
            LDAP_BASE_DN="o=x,dc=haugiang,dc=gov,dc=vn",
            LDAP_BIND_DN="cn=sync,dc=haugiang,dc=gov,dc=vn",
            LDAP_BIND_PASSWORD="irrelevant-2026",
            LDAP_TIMEOUT_SECONDS=1,
        )
        started = time.monotonic()
        result = runner.invoke(args=["directory", "sync"])
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert result.exit_code == 1, result.output
    assert "did not answer" in result.stderr and "nothing was written" in result.stderr
    assert elapsed < 10
    assert len(failures(app)) == 1


def test_a_server_that_goes_away_mid_search_leaves_the_directory_as_it_was(app, tmp_path, units):
    server = start_slapd(tmp_path / "slapd")
    try:
        tree = LdapTree.load(server, people(120))
        app.config.update(tree.settings(LDAP_PAGE_SIZE=20))
        with app.app_context():
            settings = ldap_settings(app.config)
            sync_directory(
                read_entries(settings, settings.attributes.requested(None)),
                settings,
                actor="cli:test",
            )
            db.session.commit()
            before = db.session.execute(
                sa.select(User.id, User.status, User.title).order_by(User.id)
            ).all()
            server.ldap("ldapdelete", tree.dn(tree.persons[0]))

            def stopping_after_one_page():
                for count, entry in enumerate(
                    read_entries(settings, settings.attributes.requested(None)), 1
                ):
                    if count == 25:
                        server.stop()
                    yield entry

            with pytest.raises(SourceUnavailable):
                sync_directory(stopping_after_one_page(), settings, actor="cli:test")
            db.session.rollback()
            after = db.session.execute(
                sa.select(User.id, User.status, User.title).order_by(User.id)
            ).all()
            assert after == before
        # The command reports the server that is gone as a failed run.
        result = app.test_cli_runner().invoke(args=["directory", "sync"])
        assert result.exit_code == 1 and "nothing was written" in result.stderr
        assert len(failures(app)) == 1
    finally:
        server.stop()


def test_zimbra_aliases_and_account_status(app, slapd, units):
    tree = LdapTree.load(slapd, people(60), flavour="zimbra")
    app.config.update(tree.settings())
    result = app.test_cli_runner().invoke(args=["directory", "sync", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["created"] == 60
    with app.app_context():
        aliased = next(p for p in tree.persons if p.aliases)
        owner = db.session.execute(
            sa.select(UserEmail.user_id).where(UserEmail.address == aliased.aliases[0])
        ).scalar_one()
        assert db.session.get(User, owner).email == aliased.mail
        locked = [p.mail for p in tree.persons if p.locked]
        statuses = db.session.execute(
            sa.select(User.status).join(UserEmail).where(UserEmail.address.in_(locked))
        ).scalars()
        assert set(statuses) == {"disabled"}
    tree.server.modify(
        f"dn: {tree.dn(tree.persons[0])}\nchangetype: modify\nreplace: zimbraAccountStatus\n"
        "zimbraAccountStatus: closed\n"
    )
    again = json.loads(app.test_cli_runner().invoke(args=["directory", "sync", "--json"]).stdout)
    assert again["disabled"] == 1


AD = PRESETS["active-directory"]
GUID = uuid.UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")


def ad_entry(**attributes):
    base = {
        "objectGUID": [GUID.bytes_le],
        "mail": [b"nvan.stc@haugiang.gov.vn"],
        "displayName": ["Nguyễn Văn An".encode()],
        "userAccountControl": [b"512"],
        "proxyAddresses": [
            b"SMTP:nvan.stc@haugiang.gov.vn",
            b"smtp:an.nguyen@haugiang.gov.vn",
            b"X500:/o=HG/ou=Exchange/cn=Recipients/cn=nvan",
        ],
    }
    base.update(attributes)
    return entry_from_ldap(
        "CN=Nguyen Van An,OU=STC,DC=haugiang,DC=gov,DC=vn",
        base,
        AD,
        base_dn="DC=haugiang,DC=gov,DC=vn",
        unit_from="ou",
    )


def test_active_directory_guid_proxy_addresses_and_disabled_bit():
    entry = ad_entry()
    assert entry.external_id == str(GUID)
    assert entry.aliases == ["an.nguyen@haugiang.gov.vn"]
    assert entry.unit_key == "STC" and not entry.locked
    assert ad_entry(userAccountControl=[b"514"]).locked  # 512 | ACCOUNTDISABLE
    assert ad_entry(userAccountControl=[b"garbage"]).locked
    assert ad_entry(mail=[]).email == "nvan.stc@haugiang.gov.vn"  # from SMTP:
    with pytest.raises(FieldError, match="no mail address"):
        ad_entry(mail=[], proxyAddresses=[])


def test_a_lock_out_after_failed_binds_is_not_a_lock_by_an_administrator():
    amap = PRESETS["openldap"]

    def entry(locked_time):
        attributes = {"entryUUID": [b"6f1c1a9e-1c2b-4a3d-9e8f-0a1b2c3d4e5f"], "mail": [b"a@x.vn"]}
        attributes["cn"] = ["Trần Thị Bình".encode()]
        if locked_time:
            attributes["pwdAccountLockedTime"] = [locked_time]
        return entry_from_ldap("uid=a,o=t", attributes, amap, base_dn="o=t", unit_from="ou")

    assert entry(b"000001010000Z").locked
    assert not entry(b"20261206103000Z").locked
    assert not entry(None).locked
