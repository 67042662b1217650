"""The console's Units page: the tree, a unit's page, rename, move, merge and deactivate,
each change confirmed, CSRF-protected and audited with the administrator's sub."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.admin import make_admin, make_unit_admin
from helpers.pages import csrf_token

from idp.audit import AuditEvent
from idp.directory.models import Unit, User
from idp.extensions import db


def tree(make_unit) -> None:
    make_unit("HG", "Ủy ban nhân dân tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("STC-VP", "Văn phòng Sở Tài chính", kind="sub_unit", parent="STC")
    make_unit("CT", "Huyện Châu Thành", kind="district", parent="HG")
    make_unit("CT-NV", "Phòng Nội vụ huyện Châu Thành", kind="office", parent="CT")
    make_unit("CT-TC", "Phòng Tài chính huyện Châu Thành", kind="office", parent="CT")


def unit(app, code: str) -> tuple[str, str | None, bool]:
    with app.app_context():
        row = db.session.scalars(sa.select(Unit).where(Unit.code == code)).one()
        return row.name, row.parent.code if row.parent else None, row.active


def audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def post(client, path: str, page: str, **data: str):
    """Post the form of `page` (its CSRF token) to `path`."""
    html = client.get(page).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(html), **data})


def test_the_tree_and_a_units_page(app, client, make_user, make_unit):
    tree(make_unit)
    make_admin(app, make_user, client)
    make_user("a@haugiang.gov.vn", unit="STC-VP")
    page = client.get("/admin/units")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Ủy ban nhân dân tỉnh Hậu Giang", "Văn phòng Sở Tài chính", "Huyện Châu Thành"):
        assert name in html
    assert 'aria-current="page">Đơn vị</a>' in html  # the menu entry
    page = client.get("/admin/units/STC-VP").get_data(as_text=True)
    path = page.split('id="unit-path">', 1)[1].split("</nav>", 1)[0]
    assert "Ủy ban nhân dân tỉnh Hậu Giang › Sở Tài chính › " in " ".join(path.split())
    assert '<dd id="unit-people">1 (1 đang hoạt động)</dd>' in page
    assert client.get("/admin/units/NOPE").status_code == 404


def test_rename_is_audited_with_the_administrators_sub(app, client, make_user, make_unit):
    tree(make_unit)
    sub = make_admin(app, make_user, client)
    answer = post(client, "/admin/units/STC/rename", "/admin/units/STC", name="Sở Tài chính tỉnh")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/admin/units/STC?done=rename")
    assert unit(app, "STC")[0] == "Sở Tài chính tỉnh"
    [event] = audit_rows(app, "unit.rename")
    assert (event.actor, event.subject) == (sub, "STC")
    assert event.ip == "127.0.0.1"
    assert "Đã đổi tên đơn vị." in client.get(answer.headers["Location"]).get_data(as_text=True)
    empty = post(client, "/admin/units/STC/rename", "/admin/units/STC", name="")
    assert empty.status_code == 400 and "Hãy nhập tên đơn vị." in empty.get_data(as_text=True)


def test_move_asks_for_confirmation_first(app, client, make_user, make_unit):
    tree(make_unit)
    sub = make_admin(app, make_user, client)
    first = post(client, "/admin/units/STC-VP/move", "/admin/units/STC-VP", parent="CT")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "Xác nhận thay đổi" in html and "Huyện Châu Thành" in html
    assert unit(app, "STC-VP")[1] == "STC"  # nothing yet
    answer = client.post(
        "/admin/units/STC-VP/move",
        data={"csrf_token": csrf_token(html), "parent": "CT", "confirmed": "yes"},
    )
    assert answer.status_code == 303
    assert unit(app, "STC-VP")[1] == "CT"
    [event] = audit_rows(app, "unit.move")
    assert (event.actor, event.detail) == (sub, {"from": "STC", "to": "CT"})


def test_move_into_its_own_subtree_is_refused_readably(app, client, make_user, make_unit):
    tree(make_unit)
    make_admin(app, make_user, client)
    answer = post(
        client, "/admin/units/STC/move", "/admin/units/STC", parent="STC-VP", confirmed="yes"
    )
    assert answer.status_code == 409
    assert "đơn vị cấp dưới của nó" in answer.get_data(as_text=True)
    assert unit(app, "STC")[1] == "HG" and audit_rows(app, "unit.move") == []


def test_merge_moves_people_after_confirmation(app, client, make_user, make_unit):
    tree(make_unit)
    sub = make_admin(app, make_user, client)
    person = make_user("nv@haugiang.gov.vn", unit="CT-NV")
    first = post(client, "/admin/units/CT-NV/merge", "/admin/units/CT-NV", target="CT-TC")
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "1 người dùng và 0 đơn vị cấp dưới" in html
    answer = client.post(
        "/admin/units/CT-NV/merge",
        data={"csrf_token": csrf_token(html), "target": "CT-TC", "confirmed": "yes"},
    )
    assert answer.status_code == 303
    assert unit(app, "CT-NV")[2] is False
    with app.app_context():
        moved = db.session.scalars(sa.select(User).where(User.sub == person)).one()
        assert moved.unit.code == "CT-TC"
    [event] = audit_rows(app, "unit.merge")
    assert (event.actor, event.subject, event.detail["into"]) == (sub, "CT-NV", "CT-TC")


def test_deactivate_confirms_and_refuses_while_people_remain(app, client, make_user, make_unit):
    tree(make_unit)
    make_admin(app, make_user, client)
    make_user("nv@haugiang.gov.vn", unit="CT-NV")
    refused = post(client, "/admin/units/CT-NV/deactivate", "/admin/units/CT-NV", confirmed="yes")
    assert refused.status_code == 409
    assert "còn 1 người dùng đang hoạt động" in refused.get_data(as_text=True)
    first = post(client, "/admin/units/CT-TC/deactivate", "/admin/units/CT-TC")
    assert first.status_code == 200 and unit(app, "CT-TC")[2] is True
    answer = client.post(
        "/admin/units/CT-TC/deactivate",
        data={"csrf_token": csrf_token(first.get_data(as_text=True)), "confirmed": "yes"},
    )
    assert answer.status_code == 303 and unit(app, "CT-TC")[2] is False
    assert len(audit_rows(app, "unit.deactivate")) == 1


def test_changes_without_the_csrf_token_are_refused(app, client, make_user, make_unit):
    tree(make_unit)
    make_admin(app, make_user, client)
    for path, data in (
        ("/admin/units/STC/rename", {"name": "X"}),
        ("/admin/units/STC/move", {"parent": "CT", "confirmed": "yes"}),
        ("/admin/units/CT-NV/merge", {"target": "CT-TC", "confirmed": "yes"}),
        ("/admin/units/CT-TC/deactivate", {"confirmed": "yes"}),
    ):
        assert client.post(path, data=data).status_code == 400, path
    assert unit(app, "STC") == ("Sở Tài chính", "HG", True)
    assert unit(app, "CT-TC")[2] is True


def test_a_unit_administrator_sees_only_their_subtree(app, client, make_user, make_unit):
    tree(make_unit)
    make_unit_admin(app, make_user, client, "CT", "it.ct@haugiang.gov.vn")
    html = client.get("/admin/units").get_data(as_text=True)
    assert "Huyện Châu Thành" in html and "Phòng Nội vụ huyện Châu Thành" in html
    tree_html = html.split('id="unit-tree"', 1)[1]
    assert ">STC</span>" not in tree_html and ">HG</span>" not in tree_html
    page = client.get("/admin/units/CT-NV").get_data(as_text=True)
    assert 'value="CT-TC"' in page and 'value="STC"' not in page
    assert "(cấp cao nhất)" not in page


def test_a_unit_administrator_acts_inside_their_subtree(app, client, make_user, make_unit):
    tree(make_unit)
    sub = make_unit_admin(app, make_user, client, "CT", "it.ct@haugiang.gov.vn")
    answer = post(
        client, "/admin/units/CT-NV/merge", "/admin/units/CT-NV", target="CT-TC", confirmed="yes"
    )
    assert answer.status_code == 303
    [event] = audit_rows(app, "unit.merge")
    assert event.actor == sub
