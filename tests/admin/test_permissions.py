"""The administration scope: a unit's subtree, a super-administrator's everything."""

from __future__ import annotations

from helpers.admin import grant_unit
from helpers.people import PASSWORD


def _scope(app, email):
    from idp.admin import permissions
    from idp.directory.store import find_user_by_address

    with app.app_context():
        return permissions.scope_for_user(find_user_by_address(email))


def test_subtree_and_nothing_else(app, make_user, make_unit):
    ids = {
        "HG": make_unit("HG", kind="province"),
        "VT": make_unit("VT", kind="district", parent="HG"),
        "VT.P1": make_unit("VT.P1", kind="commune", parent="VT"),
        "LM": make_unit("LM", kind="district", parent="HG"),
    }
    make_user("it@haugiang.gov.vn", password=PASSWORD, unit="VT")
    grant_unit(app, "it@haugiang.gov.vn", "VT")
    scope = _scope(app, "it@haugiang.gov.vn")
    assert scope.unit_ids == {ids["VT"], ids["VT.P1"]}
    assert not scope.covers_unit(ids["LM"]) and not scope.covers_unit(ids["HG"])
    assert not scope.covers_unit(None)
    assert not scope.is_super


def test_plain_and_disabled_people_administer_nothing(app, make_user, make_unit):
    make_unit("VT", kind="district")
    make_user("a@haugiang.gov.vn", password=PASSWORD)
    assert _scope(app, "a@haugiang.gov.vn") is None
    make_user("b@haugiang.gov.vn", password=PASSWORD, roles=["admin"], status="disabled")
    assert _scope(app, "b@haugiang.gov.vn") is None


def test_super_admin_covers_everything(app, make_user):
    make_user("root@haugiang.gov.vn", password=PASSWORD, roles=["admin"])
    scope = _scope(app, "root@haugiang.gov.vn")
    assert scope.is_super and scope.covers_unit(None)


def test_a_merge_moves_the_grants(app, make_user, make_unit):
    from idp.directory import hooks
    from idp.directory.store import find_unit

    make_unit("A", kind="district")
    make_unit("B", kind="district")
    make_user("it@haugiang.gov.vn", password=PASSWORD, unit="A")
    grant_unit(app, "it@haugiang.gov.vn", "A")
    with app.app_context():
        from idp.extensions import db

        hooks.units_merged.send(app, source_id=find_unit("A").id, target_id=find_unit("B").id)
        db.session.commit()
    scope = _scope(app, "it@haugiang.gov.vn")
    with app.app_context():
        assert scope.unit_ids == {find_unit("B").id}
