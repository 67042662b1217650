"""Administrative changes one at a time: validation, audit events, sessions of disabled users."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from idp.audit import AuditEvent
from idp.directory import service
from idp.directory.models import User
from idp.directory.passwords import verify_password
from idp.directory.store import find_unit, find_user_by_address
from idp.errors import Conflict, NotFound, ValidationFailed
from idp.extensions import db, transaction

ACTOR = "cli:tester"
GOOD_PASSWORD = "Sông-Hậu-chảy-mãi-2026"


def events(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.query(AuditEvent).order_by(AuditEvent.id).all()
        return [(e.action, e.subject) for e in rows]


def test_create_user_with_password_and_audit(app, make_unit):
    make_unit("STC", "Sở Tài chính")
    with app.test_request_context():
        with transaction():
            user = service.create_user(
                service.NewUser(
                    email="Thu.NTM@HauGiang.gov.vn",
                    name="Nguyễn Thị Minh Thư",
                    aliases=("minhthu@haugiang.gov.vn",),
                    unit_code="STC",
                    roles=("admin",),
                    title="Chuyên viên",
                    phone="+84 293 3871 234",
                    password=GOOD_PASSWORD,
                ),
                actor=ACTOR,
            )
        sub = user.sub
        assert (user.family_name, user.middle_name, user.given_name) == (
            "Nguyễn",
            "Thị Minh",
            "Thư",
        )
        assert user.aliases == ["minhthu@haugiang.gov.vn"]
        assert user.unit.code == "STC" and user.roles == ["admin"]
        assert verify_password(user.password_hash, GOOD_PASSWORD)
    assert events(app) == [("user.create", sub)]
    with app.app_context():
        detail = db.session.query(AuditEvent).one().detail
    assert GOOD_PASSWORD not in str(detail) and detail["password_set"] is True


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"email": "abc@"}, ValidationFailed, "bad e-mail address 'abc@'"),
        ({"unit_code": "NOWHERE"}, NotFound, "unknown unit NOWHERE"),
        (
            {"aliases": ("AN.NV@haugiang.gov.vn",)},
            Conflict,
            "address an.nv@haugiang.gov.vn already belongs",
        ),
        ({"name": "  "}, ValidationFailed, "missing full name"),
        ({"password": "1234567890"}, ValidationFailed, "password rejected: "),
        ({"roles": ("Quản trị",)}, ValidationFailed, "bad role"),
    ],
)
def test_create_user_refuses_bad_input_and_writes_nothing(app, make_user, changes, error, message):
    make_user("nguyen.van.an@haugiang.gov.vn", aliases=["an.nv@haugiang.gov.vn"])
    values = {"email": "moi@haugiang.gov.vn", "name": "Lê Văn Mới", **changes}
    with app.test_request_context(), pytest.raises(error, match=message):
        service.create_user(service.NewUser(**values), actor=ACTOR)
    with app.app_context():
        assert db.session.query(User).count() == 1
    assert events(app) == []


def test_password_policy_lists_every_violation(app, make_user):
    make_user("nguyen.van.an@haugiang.gov.vn", password=None)
    with app.test_request_context():
        user = find_user_by_address("nguyen.van.an@haugiang.gov.vn")
        with pytest.raises(service.PasswordRejected) as caught, transaction():
            service.set_password(user, "an ", ACTOR)
        assert {v.code for v in caught.value.violations} == {"too_short", "bad_characters"}
        with transaction():
            service.set_password(user, GOOD_PASSWORD, ACTOR)
        assert verify_password(
            find_user_by_address("nguyen.van.an@haugiang.gov.vn").password_hash, GOOD_PASSWORD
        )
    assert [a for a, _ in events(app)] == ["user.set_password"]


def test_disable_ends_sessions_and_enable_restores(app, make_user):
    from idp.sessions.models import SsoSession
    from idp.sessions.store import start_session

    sub = make_user("an@haugiang.gov.vn")
    with app.test_request_context():
        start_session(find_user_by_address("an@haugiang.gov.vn"), amr=["pwd"], acr="1")
        db.session.commit()
        user = find_user_by_address("an@haugiang.gov.vn")
        with transaction():
            assert service.disable_user(user, ACTOR) is True
            assert service.disable_user(user, ACTOR) is False
        sso = db.session.execute(sa.select(SsoSession)).scalar_one()
        assert sso.end_reason == "user_disabled"
        with transaction():
            assert service.enable_user(user, ACTOR) is True
            assert service.enable_user(user, ACTOR) is False
        assert find_user_by_address("an@haugiang.gov.vn").is_active
    assert events(app) == [("user.disable", sub), ("user.enable", sub)]


def test_update_user_records_what_changed(app, make_user, make_unit):
    make_unit("SNV", "Sở Nội vụ")
    sub = make_user("an@haugiang.gov.vn")
    with app.test_request_context():
        user = find_user_by_address("an@haugiang.gov.vn")
        with transaction():
            changed = service.update_user(user, actor=ACTOR, unit_code="SNV", title="Chuyên viên")
        assert changed == ["unit_id", "title"]
        with transaction():
            assert service.update_user(user, actor=ACTOR, title="Chuyên viên") == []
        with pytest.raises(NotFound), transaction():
            service.update_user(user, actor=ACTOR, title="Giám đốc", unit_code="NOWHERE")
        assert find_user_by_address("an@haugiang.gov.vn").title == "Chuyên viên"
    assert events(app) == [("user.update", sub)]


def test_units_cannot_move_under_themselves(app):
    with app.test_request_context():
        with transaction():
            service.create_unit("HG", "Tỉnh Hậu Giang", actor=ACTOR, kind="province")
            service.create_unit(
                "STC", "Sở Tài chính", actor=ACTOR, kind="department", parent_code="HG"
            )
        with pytest.raises(Conflict, match="unit STC already exists"), transaction():
            service.create_unit("STC", "Sở khác", actor=ACTOR)
        root = find_unit("HG")
        with pytest.raises(ValidationFailed, match="cannot be moved under itself"), transaction():
            service.update_unit(root, actor=ACTOR, parent_code="STC")
        with transaction():
            changed = service.update_unit(find_unit("STC"), actor=ACTOR, name="Sở Tài chính tỉnh")
        assert changed == ["name"]
        assert find_unit("HG").parent_id is None
    assert events(app) == [("unit.create", "HG"), ("unit.create", "STC"), ("unit.update", "STC")]


def test_find_user_by_alias_any_case_or_sub(app, make_user):
    sub = make_user("an@haugiang.gov.vn", aliases=["an.nv@haugiang.gov.vn"])
    with app.test_request_context():
        assert service.find_user(" AN.NV@HauGiang.gov.vn ").sub == sub
        assert service.find_user(sub).email == "an@haugiang.gov.vn"
        with pytest.raises(NotFound, match="no user 'nobody@haugiang.gov.vn'"):
            service.find_user("nobody@haugiang.gov.vn")
