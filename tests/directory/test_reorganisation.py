"""Re-organisations (idp.directory.units and `idp units rename|move|merge|deactivate`):
people keep their sub and their sessions, and their unit claims follow at once."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.cli import one_line_error
from helpers.people import EMAIL

from idp.admin.models import UnitAdmin
from idp.audit import AuditEvent
from idp.directory.models import Unit, User
from idp.extensions import db
from idp.sessions.models import SsoSession


def tree(make_unit) -> None:
    make_unit("HG", "Ủy ban nhân dân tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("STC-VP", "Văn phòng Sở Tài chính", kind="sub_unit", parent="STC")
    make_unit("SKH", "Sở Kế hoạch và Đầu tư", parent="HG")
    make_unit("SKH-VP", "Văn phòng Sở Kế hoạch", kind="sub_unit", parent="SKH")
    make_unit("CT", "Huyện Châu Thành", kind="district", parent="HG")


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def unit_state(app, code: str) -> tuple[str, str | None, bool]:
    with app.app_context():
        unit = db.session.scalars(sa.select(Unit).where(Unit.code == code)).one()
        return unit.name, unit.parent.code if unit.parent else None, unit.active


def live_sessions(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(SsoSession).where(SsoSession.ended_at.is_(None))
        )


def test_merge_moves_people_and_units_keeps_subs_and_sessions_and_the_claims_follow(
    app, rp, runner, make_unit, make_user
):
    tree(make_unit)
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == EMAIL)).one()
        user.unit_id = db.session.scalar(sa.select(Unit.id).where(Unit.code == "SKH"))
        sub = user.sub
        db.session.commit()
    other = make_user("b@haugiang.gov.vn", unit="SKH")
    body = rp.tokens(scope="openid org")
    assert rp.userinfo(body["access_token"]).get_json()["unit_code"] == "SKH"
    sessions = live_sessions(app)

    result = runner.invoke(args=["units", "merge", "SKH", "STC"])
    assert result.exit_code == 0, result.output
    assert "2 people and 1 units moved" in result.stdout

    info = rp.userinfo(body["access_token"]).get_json()  # the same token still works
    assert info["sub"] == sub and info["unit_code"] == "STC"
    assert [u["code"] for u in info["unit_path"]] == ["HG", "STC"]
    assert live_sessions(app) == sessions
    assert unit_state(app, "SKH")[2] is False  # kept, inactive
    assert unit_state(app, "SKH-VP")[1] == "STC"
    with app.app_context():
        assert db.session.scalars(sa.select(User).where(User.sub == other)).one().unit.code == "STC"
    # A new sign-in's ID token names the new unit too.
    fresh = rp.tokens(scope="openid org", prompt="none")
    claims = rp.validate_id_token(fresh["id_token"], nonce="n-0S6_WzA2Mj")
    assert claims["sub"] == sub and claims["unit_code"] == "STC"
    [event] = events(app, "unit.merge")
    assert event.subject == "SKH" and event.actor.startswith("cli:")
    assert event.detail == {"into": "STC", "people": 2, "children": 1}


def test_merge_hands_the_source_administrators_to_the_target(app, make_unit, make_user):
    from idp.directory import units

    tree(make_unit)
    admin = make_user("it.skh@haugiang.gov.vn", unit="SKH")
    with app.test_request_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.sub == admin))
        skh = db.session.scalars(sa.select(Unit).where(Unit.code == "SKH")).one()
        stc = db.session.scalars(sa.select(Unit).where(Unit.code == "STC")).one()
        db.session.add(UnitAdmin(user_id=admin_id, unit_id=skh.id, granted_by="cli:root"))
        db.session.commit()
        units.merge_units(skh, stc, actor="cli:tester")
        db.session.commit()
        granted = db.session.scalars(sa.select(UnitAdmin.unit_id)).all()
        assert granted == [stc.id]


def test_merge_refusals_change_nothing(app, runner, make_unit):
    tree(make_unit)
    assert "into itself" in one_line_error(runner.invoke(args=["units", "merge", "STC", "STC"]))
    assert "one of its own units" in one_line_error(
        runner.invoke(args=["units", "merge", "STC", "STC-VP"])
    )
    assert runner.invoke(args=["units", "deactivate", "CT"]).exit_code == 0
    assert "is inactive" in one_line_error(runner.invoke(args=["units", "merge", "STC", "CT"]))
    assert "unknown unit NOPE" in one_line_error(
        runner.invoke(args=["units", "merge", "STC", "NOPE"])
    )
    assert unit_state(app, "STC") == ("Sở Tài chính", "HG", True)
    assert events(app, "unit.merge") == []


def test_move_keeps_the_subtree_and_refuses_cycles(app, runner, make_unit, make_user, rp):
    tree(make_unit)
    make_user("c@haugiang.gov.vn", unit="STC-VP")
    assert runner.invoke(args=["units", "move", "STC", "CT"]).exit_code == 0
    assert unit_state(app, "STC")[1] == "CT"
    assert unit_state(app, "STC-VP")[1] == "STC"
    [event] = events(app, "unit.move")
    assert (event.subject, event.detail) == ("STC", {"from": "HG", "to": "CT"})

    assert "one of its units" in one_line_error(
        runner.invoke(args=["units", "move", "STC", "STC-VP"])
    )
    assert "one of its units" in one_line_error(runner.invoke(args=["units", "move", "STC", "STC"]))
    assert unit_state(app, "STC")[1] == "CT"
    assert runner.invoke(args=["units", "move", "STC", "CT"]).stdout == "Nothing changed.\n"
    assert runner.invoke(args=["units", "move", "STC", "--top"]).exit_code == 0
    assert unit_state(app, "STC")[1] is None
    assert len(events(app, "unit.move")) == 2
    assert "either a PARENT" in one_line_error(
        runner.invoke(args=["units", "move", "STC", "HG", "--top"])
    )


def test_rename_keeps_the_code_and_the_claims_follow(app, rp, runner, make_unit):
    tree(make_unit)
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == EMAIL)).one()
        user.unit_id = db.session.scalar(sa.select(Unit.id).where(Unit.code == "STC"))
        db.session.commit()
    body = rp.tokens(scope="openid org")
    result = runner.invoke(args=["units", "rename", "STC", "Sở Tài chính tỉnh Hậu Giang"])
    assert result.exit_code == 0, result.output
    info = rp.userinfo(body["access_token"]).get_json()
    assert (info["unit_code"], info["unit_name"]) == ("STC", "Sở Tài chính tỉnh Hậu Giang")
    [event] = events(app, "unit.rename")
    assert event.detail == {"from": "Sở Tài chính", "to": "Sở Tài chính tỉnh Hậu Giang"}
    assert "missing unit name" in one_line_error(
        runner.invoke(args=["units", "rename", "STC", " "])
    )


def test_deactivate_is_refused_while_people_or_units_are_active(app, runner, make_unit, make_user):
    tree(make_unit)
    make_user("d@haugiang.gov.vn", unit="SKH-VP")
    make_user("e@haugiang.gov.vn", unit="CT", status="disabled")
    line = one_line_error(runner.invoke(args=["units", "deactivate", "SKH-VP"]))
    assert "still has 1 active people" in line
    line = one_line_error(runner.invoke(args=["units", "deactivate", "SKH"]))
    assert "still has 1 active units (SKH-VP)" in line
    assert unit_state(app, "SKH")[2] and unit_state(app, "SKH-VP")[2]
    # Only disabled people left: it may go.
    assert runner.invoke(args=["units", "deactivate", "CT"]).stdout == "Unit CT deactivated.\n"
    assert runner.invoke(args=["units", "deactivate", "CT"]).stdout == "Nothing changed.\n"
    [event] = events(app, "unit.deactivate")
    assert event.subject == "CT"
