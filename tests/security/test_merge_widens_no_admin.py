"""A merge moves the merged unit's delegated administrators to the target
(permissions.move_grants). Done by a district's administrator, merging an office with its
own administrator into the district's root (or any wider unit) would make that office's
administrator administrator of the whole district: a grant, which only provincial
super-administrators make. Refused (403, admin.denied); a super-administrator may."""

from __future__ import annotations

import pytest
from helpers.admin import console_sign_in, grant_unit, make_admin
from helpers.admin_api import API, bearer, make_tool_client, person_token, problem
from helpers.console import events
from helpers.pages import csrf_of
from helpers.people import PASSWORD


@pytest.fixture
def district(app, make_user, make_unit):
    make_unit("HG", kind="province")
    make_unit("VT", kind="district", parent="HG")
    make_unit("VT-X", kind="office", parent="VT")
    make_unit("VT-Y", kind="office", parent="VT")
    make_user("it.vt@haugiang.gov.vn", PASSWORD, unit="VT")
    grant_unit(app, "it.vt@haugiang.gov.vn", "VT")
    make_user("it.vtx@haugiang.gov.vn", PASSWORD, unit="VT-X", given_name="Binh")
    grant_unit(app, "it.vtx@haugiang.gov.vn", "VT-X")


def _roots(app, email: str) -> list[str]:
    from idp.admin import permissions
    from idp.directory.store import find_user_by_address

    with app.app_context():
        user = find_user_by_address(email)
        return [u.code for u in permissions.administered_units(user)]


def _merge(client, source: str, target: str):
    token = csrf_of(client, f"/admin/units/{source}")
    return client.post(
        f"/admin/units/{source}/merge",
        data={"csrf_token": token, "target": target, "confirmed": "yes"},
    )


@pytest.mark.parametrize("target", ["VT", "VT-Y"])
def test_a_unit_admin_cannot_widen_another_admin_by_a_merge(app, client, district, target):
    console_sign_in(app, client, "it.vt@haugiang.gov.vn")
    assert _merge(client, "VT-X", target).status_code == 403
    assert _roots(app, "it.vtx@haugiang.gov.vn") == ["VT-X"]
    assert not events(app, "unit.merge")
    assert events(app, "admin.denied")


def test_a_unit_admin_still_merges_units_without_their_own_admins(app, client, district):
    console_sign_in(app, client, "it.vt@haugiang.gov.vn")
    assert _merge(client, "VT-Y", "VT").status_code == 303
    assert events(app, "unit.merge")


def test_through_the_api_too(app, client, district):
    make_tool_client(app)
    token = person_token(app, client, "it.vt@haugiang.gov.vn")
    answer = client.post(f"{API}/units/VT-X/merge", json={"into": "VT"}, headers=bearer(token))
    problem(answer, 403)
    assert _roots(app, "it.vtx@haugiang.gov.vn") == ["VT-X"]


def test_a_super_admin_may(app, client, make_user, district):
    make_admin(app, make_user, client)
    assert _merge(client, "VT-X", "VT").status_code == 303
    assert _roots(app, "it.vtx@haugiang.gov.vn") == ["VT"]
