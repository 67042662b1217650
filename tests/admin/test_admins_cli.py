"""`idp admins grant|revoke|list`: unit administrators from the command line, audited with
the operating-system account as actor."""

from __future__ import annotations

import json
import os
import pwd

import sqlalchemy as sa
from helpers.cli import one_line_error
from helpers.people import PASSWORD

ACCOUNT = pwd.getpwuid(os.getuid()).pw_name


def _events(app) -> list[tuple[str, str, str | None, dict]]:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor, AuditEvent.subject, AuditEvent.detail)
            .where(AuditEvent.action.like("admin.%"))
            .order_by(AuditEvent.id)
        )
        return [tuple(r) for r in rows]


def test_grant_list_revoke(app, runner, make_user, make_unit, monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.delenv("USER", raising=False)
    make_unit("HG", kind="province")
    make_unit("VT", "Thành phố Vị Thanh", kind="district", parent="HG")
    make_user("quan.tri@haugiang.gov.vn", password=PASSWORD, roles=["admin"], given_name="Tri")
    sub = make_user("it.vt@haugiang.gov.vn", password=PASSWORD, unit="VT", given_name="Bao")

    granted = runner.invoke(args=["admins", "grant", "IT.VT@haugiang.gov.vn", "--unit", "VT"])
    assert granted.exit_code == 0, granted.output
    assert granted.stdout == (
        "it.vt@haugiang.gov.vn now administers VT (Thành phố Vị Thanh) and the units below.\n"
    )
    again = runner.invoke(args=["admins", "grant", "it.vt@haugiang.gov.vn", "--unit", "VT"])
    assert again.stdout == "it.vt@haugiang.gov.vn already administered VT.\n"

    listed = json.loads(runner.invoke(args=["admins", "list", "--json"]).stdout)
    assert [(a["email"], a["super_administrator"], a["units"]) for a in listed] == [
        ("quan.tri@haugiang.gov.vn", True, []),
        ("it.vt@haugiang.gov.vn", False, ["VT"]),
    ]
    text = runner.invoke(args=["admins", "list"])
    assert "units: VT" in text.stdout and "super-administrator" in text.stdout

    revoked = runner.invoke(args=["admins", "revoke", "it.vt@haugiang.gov.vn", "--unit", "VT"])
    assert revoked.stdout == "it.vt@haugiang.gov.vn no longer administers VT.\n"
    assert _events(app) == [
        ("admin.grant", f"cli:{ACCOUNT}", sub, {"unit": "VT"}),
        ("admin.revoke", f"cli:{ACCOUNT}", sub, {"unit": "VT"}),
    ]
    listed = json.loads(runner.invoke(args=["admins", "list", "--json"]).stdout)
    assert [a["email"] for a in listed] == ["quan.tri@haugiang.gov.vn"]


def test_errors_are_one_line_and_change_nothing(app, runner, make_user, make_unit):
    make_unit("VT", kind="district")
    make_user("it.vt@haugiang.gov.vn", password=PASSWORD, unit="VT")
    assert (
        one_line_error(runner.invoke(args=["admins", "grant", "x@haugiang.gov.vn", "--unit", "VT"]))
        == "Error: no user 'x@haugiang.gov.vn'"
    )
    assert (
        one_line_error(
            runner.invoke(args=["admins", "grant", "it.vt@haugiang.gov.vn", "--unit", "NOPE"])
        )
        == "Error: unknown unit NOPE"
    )
    assert _events(app) == []
