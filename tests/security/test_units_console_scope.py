"""The console's Units page from outside: a unit administrator reaching beyond their
subtree (a unit, a new parent or a merge target outside it), a plain user, and nobody
signed in. Each refusal is a 403 and an admin.denied audit event, and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.admin import make_unit_admin
from helpers.pages import csrf_token, sign_in
from helpers.people import EMAIL, PASSWORD

from idp.audit import AuditEvent
from idp.directory.models import Unit
from idp.extensions import db


def tree(make_unit) -> None:
    make_unit("HG", "Tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("CT", "Huyện Châu Thành", kind="district", parent="HG")
    make_unit("CT-NV", "Phòng Nội vụ", kind="office", parent="CT")
    make_unit("CT-TC", "Phòng Tài chính", kind="office", parent="CT")


def snapshot(app) -> dict[str, tuple]:
    with app.app_context():
        return {
            u.code: (u.name, u.parent_id, u.active)
            for u in db.session.scalars(sa.select(Unit)).all()
        }


def denials(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject).where(
                AuditEvent.action == "admin.denied"
            )
        )
        return [tuple(r) for r in rows]


def changes(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("unit.%"))
        )


OUTSIDE = [
    ("/admin/units/STC/rename", {"name": "Đổi tên trái phép"}),
    ("/admin/units/CT-NV/move", {"parent": "STC", "confirmed": "yes"}),
    ("/admin/units/CT-NV/move", {"parent": "", "confirmed": "yes"}),
    ("/admin/units/CT/move", {"parent": "HG", "confirmed": "yes"}),
    ("/admin/units/CT-NV/merge", {"target": "STC", "confirmed": "yes"}),
    ("/admin/units/STC/merge", {"target": "CT-TC", "confirmed": "yes"}),
    ("/admin/units/STC/deactivate", {"confirmed": "yes"}),
    ("/admin/units/CT-NV/move", {"parent": "STC"}),  # not even the confirmation page
]


@pytest.mark.parametrize(("path", "data"), OUTSIDE)
def test_a_unit_administrator_cannot_reach_outside_their_subtree(
    app, client, make_user, make_unit, path, data
):
    tree(make_unit)
    sub = make_unit_admin(app, make_user, client, "CT", "it.ct@haugiang.gov.vn")
    before = snapshot(app)
    token = csrf_token(client.get("/admin/units/CT").get_data(as_text=True))
    answer = client.post(path, data={"csrf_token": token, **data})
    assert answer.status_code == 403
    assert snapshot(app) == before and changes(app) == 0
    assert denials(app) == [(sub, path)]


def test_a_unit_administrator_cannot_read_a_unit_outside(app, client, make_user, make_unit):
    tree(make_unit)
    sub = make_unit_admin(app, make_user, client, "CT", "it.ct@haugiang.gov.vn")
    answer = client.get("/admin/units/STC")
    assert answer.status_code == 403 and "Sở Tài chính" not in answer.get_data(as_text=True)
    assert denials(app) == [(sub, "/admin/units/STC")]


def test_a_plain_user_gets_403_everywhere(app, client, make_user, make_unit):
    tree(make_unit)
    sub = make_user(EMAIL, password=PASSWORD, unit="CT")
    assert sign_in(client).status_code == 302
    before = snapshot(app)
    assert client.get("/admin/units").status_code == 403
    token = csrf_token(client.get("/account/").get_data(as_text=True))
    answer = client.post(
        "/admin/units/CT-NV/merge",
        data={"csrf_token": token, "target": "CT-TC", "confirmed": "yes"},
    )
    assert answer.status_code == 403
    assert snapshot(app) == before
    assert denials(app) == [(sub, "/admin/units"), (sub, "/admin/units/CT-NV/merge")]


def test_nobody_signed_in_is_sent_to_sign_in(app, client, make_unit):
    tree(make_unit)
    assert client.get("/admin/units").status_code == 302
    answer = client.post("/admin/units/CT/deactivate", data={"confirmed": "yes"})
    assert answer.status_code in (302, 400)
    assert snapshot(app)["CT"][2] is True
