"""A unit administrator and the people of their subtree who administer more than they do.

A provincial super-administrator, or an administrator of a wider subtree, may well sit in
a unit of a district (their desk is there). The district's administrator sees them in the
people list, but must not act on them: disabling the province's administrator, removing
their second factors or ending their sessions would be acting above one's own scope.
"""

from __future__ import annotations

import pytest
from helpers.admin import console_sign_in, grant_unit
from helpers.console import events, post_action, user_status
from helpers.people import PASSWORD

ACTIONS = ("disable", "unlock", "send-activation", "send-reset", "reset-factors", "end-sessions")


@pytest.fixture
def vithanh(app, client, make_user, make_unit):
    make_unit("HG", kind="province")
    make_unit("HG.VT", kind="district", parent="HG")
    make_unit("HG.VT.VP", kind="office", parent="HG.VT")
    make_unit("HG.NB", kind="district", parent="HG")
    sub = make_user("it.vt@haugiang.gov.vn", PASSWORD, unit="HG.VT")
    grant_unit(app, "it.vt@haugiang.gov.vn", "HG.VT")
    console_sign_in(app, client, "it.vt@haugiang.gov.vn")
    return sub


def _superiors(app, make_user):
    province = make_user(
        "admin@haugiang.gov.vn", PASSWORD, roles=["admin"], unit="HG.VT.VP", given_name="Khoa"
    )
    wider = make_user("it.hg@haugiang.gov.vn", PASSWORD, unit="HG.VT.VP", given_name="Bao")
    grant_unit(app, "it.hg@haugiang.gov.vn", "HG")
    return province, wider


def test_unit_admin_cannot_act_on_a_super_admin_or_wider_admin_in_their_subtree(
    app, client, make_user, vithanh
):
    for sub in _superiors(app, make_user):
        for name in ACTIONS:
            answer = post_action(client, sub, name)
            assert answer.status_code == 403, (name, answer.status_code)
        assert user_status(app, sub) == "active"
    assert not events(app, "password.link_sent")
    assert not events(app, "factors.admin_reset")
    assert len(events(app, "admin.denied")) == 2 * len(ACTIONS)


def test_unit_admin_still_acts_on_their_own_people(app, client, make_user, vithanh):
    """The rule does not stop the ordinary work: a person of the subtree, or another
    administrator of a part of it."""
    plain = make_user("nv.vt@haugiang.gov.vn", PASSWORD, unit="HG.VT.VP")
    deputy = make_user("it.vtvp@haugiang.gov.vn", PASSWORD, unit="HG.VT.VP", given_name="Binh")
    grant_unit(app, "it.vtvp@haugiang.gov.vn", "HG.VT.VP")
    for sub in (plain, deputy):
        assert post_action(client, sub, "disable").status_code == 303
        assert user_status(app, sub) == "disabled"
