"""`idp users invite`: who is selected, the dry run, batches spread over time, and an
interrupted or repeated run."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from helpers.mailbox import link_in, path_of, queued

PASSWORD = "Mật-khẩu-đủ-dài-2026"


def invite(app, *args: str):
    result = app.test_cli_runner().invoke(args=["users", "invite", *args])
    return result


def people(make_unit, make_user) -> None:
    make_unit("STTTT", "Sở Thông tin và Truyền thông")
    make_unit("CNTT", "Trung tâm CNTT", kind="office", parent="STTTT")
    make_unit("SYT", "Sở Y tế")
    make_user("a@haugiang.gov.vn", None, unit="STTTT")
    make_user("b@haugiang.gov.vn", None, unit="CNTT")
    make_user("c@haugiang.gov.vn", PASSWORD, unit="STTTT")
    make_user("d@haugiang.gov.vn", None, unit="SYT")
    make_user("e@haugiang.gov.vn", None, unit="STTTT", status="disabled")


def test_dry_run_lists_and_sends_nothing(app, make_unit, make_user):
    people(make_unit, make_user)
    result = invite(app, "--unit", "STTTT", "--subtree", "--without-password", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sorted(lines[:2]) == ["a@haugiang.gov.vn", "b@haugiang.gov.vn"]
    assert "Would invite 2 accounts" in result.output
    assert not queued(app)
    as_json = json.loads(invite(app, "--without-password", "--dry-run", "--json").output)
    assert as_json["would_invite"] == 3 and as_json["invited"] == 0
    assert sorted(as_json["emails"]) == [
        "a@haugiang.gov.vn",
        "b@haugiang.gov.vn",
        "d@haugiang.gov.vn",
    ]


def test_invite_sends_activation_links_and_skips_who_has_one(app, make_unit, make_user):
    people(make_unit, make_user)
    result = invite(app, "--unit", "STTTT", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # Disabled accounts never; without --without-password, those with one too.
    assert sorted(summary["emails"]) == ["a@haugiang.gov.vn", "c@haugiang.gov.vn"]
    mails = queued(app, template="activation")
    assert sorted(m.recipient for m in mails) == ["a@haugiang.gov.vn", "c@haugiang.gov.vn"]
    assert all(m.kind == "activation" and m.subject.startswith("Kích hoạt") for m in mails)
    path = path_of(link_in(mails[0].text))
    assert app.test_client().get(path).status_code == 200

    again = json.loads(invite(app, "--unit", "STTTT", "--json").output)
    assert again["invited"] == 0 and again["already_invited"] == 2
    assert len(queued(app, template="activation")) == 2


def test_batches_are_spread_over_time(app, make_user):
    from idp.directory.models import AccountToken
    from idp.extensions import db
    from idp.mail.models import MailMessage

    for i in range(5):
        make_user(f"nguoi{i}@haugiang.gov.vn", None)
    app.config.update(INVITE_BATCH_SIZE=2, INVITE_BATCH_INTERVAL_SECONDS=600)
    result = invite(app, "--without-password")
    assert result.exit_code == 0, result.output
    assert "Invited 5 accounts in 3 batches" in result.output
    with app.app_context():
        due = sorted(db.session.execute(sa.select(MailMessage.next_attempt_at)).scalars().all())
        tokens = sorted(db.session.execute(sa.select(AccountToken.expires_at)).scalars().all())
    steps = [round((due[i] - due[0]).total_seconds()) for i in range(5)]
    assert steps[0] == 0 and steps[1] < 5
    assert 595 <= steps[2] <= 605 and 1195 <= steps[4] <= 1205
    # A link lives ACTIVATION_LINK_SECONDS from when its mail is due.
    lifetime = timedelta(seconds=app.config["ACTIVATION_LINK_SECONDS"])
    assert abs((tokens[4] - due[4] - lifetime).total_seconds()) < 5


def test_invite_rejects_bad_options(app, make_unit):
    assert invite(app, "--subtree").exit_code != 0
    unknown = invite(app, "--unit", "KHONGCO")
    assert unknown.exit_code == 1 and "unknown unit" in unknown.output
