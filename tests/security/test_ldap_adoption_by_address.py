"""The LDAP sync adopts by address only plain imported accounts (docs/directory.md).

An entry whose mail or alias is an existing account's address takes that account over:
its profile, its unit and, with LDAP_PASSWORD_CHECK=always, its password. Whoever can add
an entry (or an alias) in the source would so take over the super-administrator, a unit
administrator, an account made through an upstream, or an account mirrored from elsewhere.
Such entries are rejected with the reason, the accounts are left as they were (and not
disabled); a plain account made by the CSV import is still linked (the migration path).
Real slapd, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers.slapd import LdapTree, people

from idp.admin.models import UnitAdmin
from idp.directory.models import Unit, User, UserEmail
from idp.extensions import db, utcnow
from idp.upstreams.origin_models import UpstreamAccountOrigin

OLD_PASSWORD = "Mật khẩu cũ của tôi 2026"


@pytest.fixture
def tree(slapd):
    return LdapTree.load(slapd, people(6))


@pytest.fixture
def app_config(tree):
    return tree.settings()


@pytest.fixture
def units(make_unit):
    for code in ("STC", "SNV", "SYT", "VT"):
        make_unit(code)
    make_unit("VT-PTP", parent="VT", kind="office")


def _user(address: str) -> User:
    return db.session.execute(
        sa.select(User).join(UserEmail).where(UserEmail.address == address)
    ).scalar_one()


def _privileged_accounts(app, make_user, tree) -> dict[str, str]:
    """One account per reason a sync may not adopt it; returns {mail: reason}."""
    mails = [p.mail for p in tree.persons]
    for mail in mails[:5]:
        make_user(mail, password=OLD_PASSWORD)
    with app.app_context():
        _user(mails[0]).roles = ["admin"]
        unit = db.session.scalars(sa.select(Unit).where(Unit.code == "STC")).one()
        db.session.add(UnitAdmin(user_id=_user(mails[1]).id, unit_id=unit.id, granted_by="t"))
        db.session.add(
            UpstreamAccountOrigin(
                user_id=_user(mails[2]).id, upstream="national", created_at=utcnow()
            )
        )
        mirrored = _user(mails[3])
        mirrored.source, mirrored.external_id = "ad", "guid-1"
        db.session.commit()
    return {
        mails[0]: "roles",
        mails[1]: "unit_admin",
        mails[2]: "upstream_account",
        mails[3]: "mirrored from ad:guid-1",
    }


def test_privileged_and_foreign_accounts_are_not_adopted_by_address(
    app, runner, tree, units, make_user
):
    refused = _privileged_accounts(app, make_user, tree)
    plain = tree.persons[4].mail
    with app.app_context():
        before = {m: (_user(m).sub, _user(m).password_hash) for m in refused}
    runner.app.config["LDAP_PASSWORD_CHECK"] = "always"
    result = runner.invoke(args=["directory", "sync", "--json"])
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    reasons = {r["dn"]: r["reason"] for r in data["rejections"]}
    assert len(reasons) == len(refused)
    for person in tree.persons[:4]:
        reason = reasons[tree.dn(person)]
        assert "may not adopt" in reason and refused[person.mail] in reason, reason
    with app.app_context():
        for mail, (sub, password_hash) in before.items():
            user = _user(mail)
            assert (user.sub, user.password_hash, user.status) == (sub, password_hash, "active")
            assert user.external_id in (None, "guid-1")
            assert user.source in (None, "ad")
        # The control: a plain imported account is linked by its address.
        assert _user(plain).source == "ldap"
    # A second run rejects them again and still disables nobody.
    again = runner.invoke(args=["directory", "sync", "--json"])
    assert again.exit_code == 3, again.output
    with app.app_context():
        assert {_user(m).status for m in refused} == {"active"}
