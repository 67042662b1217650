"""Attacks on the console's people and audit pages: reaching people of another subtree by
URL (IDOR), formulas planted for the CSV export, LIKE wildcards and very long searches, and
forms posted from elsewhere."""

from __future__ import annotations

import csv
import io

import pytest
from helpers.admin import console_sign_in, grant_unit, make_admin
from helpers.console import events, post_action, user_status
from helpers.pages import csrf_token, sign_in
from helpers.people import EMAIL, PASSWORD


@pytest.fixture
def districts(make_unit):
    make_unit("HG", kind="province")
    make_unit("HG.VT", kind="district", parent="HG")
    make_unit("HG.NB", kind="district", parent="HG")


@pytest.fixture
def vithanh_admin(app, client, make_user, districts):
    sub = make_user("it.vt@haugiang.gov.vn", PASSWORD, unit="HG.VT")
    grant_unit(app, "it.vt@haugiang.gov.vn", "HG.VT")
    console_sign_in(app, client, "it.vt@haugiang.gov.vn")
    return sub


ACTIONS = (
    "disable",
    "enable",
    "unlock",
    "send-activation",
    "send-reset",
    "reset-factors",
    "end-sessions",
    "grant-unit",
    "revoke-unit",
)


def test_idor_across_subtrees(app, client, make_user, vithanh_admin):
    """Every page and action on a person of Ngã Bảy, from Vị Thanh's administrator: 403,
    an admin.denied event each time, and nothing changed."""
    other = make_user("nb@haugiang.gov.vn", unit="HG.NB")
    csrf = csrf_token(client.get("/admin/people").get_data(as_text=True) + _form(client))
    assert client.get(f"/admin/people/{other}").status_code == 403
    for name in ACTIONS:
        assert client.get(f"/admin/people/{other}/{name}").status_code == 403
        answer = client.post(
            f"/admin/people/{other}/{name}",
            data={"csrf_token": csrf, "confirmed": "yes", "unit": "HG.VT"},
        )
        assert answer.status_code == 403, name
    assert user_status(app, other) == "active"
    denied = events(app, "admin.denied")
    assert len(denied) == 1 + 2 * len(ACTIONS)
    assert {e["actor"] for e in denied} == {vithanh_admin}
    assert not events(app, "password.link_sent")


def _form(client) -> str:
    """A page of the admin's own with a form: their own person page."""
    import re

    html = client.get("/admin/people?q=it.vt").get_data(as_text=True)
    own = re.search(r'href="(/admin/people/[^"?/]+)"', html).group(1)
    return client.get(own).get_data(as_text=True)


def test_plain_user_gets_403_everywhere(app, client, make_user):
    sub = make_user(EMAIL)
    assert sign_in(client).status_code == 302
    for path in ("/admin/people", f"/admin/people/{sub}", "/admin/audit", "/admin/audit.csv"):
        assert client.get(path).status_code == 403, path
    assert len(events(app, "admin.denied")) == 4


def test_posting_without_csrf_changes_nothing(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    for name in ACTIONS:
        answer = client.post(f"/admin/people/{sub}/{name}", data={"confirmed": "yes"})
        assert answer.status_code == 400, name
    assert user_status(app, sub) == "active"
    assert not events(app, "user.disable")


def test_csv_export_neutralises_formulas(app, client, make_user):
    make_admin(app, make_user, client)
    from idp import audit
    from idp.extensions import db

    planted = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with app.app_context():
        for value in planted:
            audit.record("login", actor="anonymous", subject=value, outcome="failure")
        db.session.commit()
    text = (
        client.get("/admin/audit.csv?action=login&outcome=failure").get_data().decode("utf-8-sig")
    )
    rows = list(csv.reader(io.StringIO(text)))
    subjects = [r[rows[0].index("subject")] for r in rows[1:]]
    assert sorted(subjects) == sorted("'" + v for v in planted)
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


@pytest.mark.parametrize("typed", ["%", "_", "%%", "\\", "a%", "_@", "%@%"])
def test_like_wildcards_match_only_themselves(app, client, make_user, typed):
    make_admin(app, make_user, client)
    make_user("binh@haugiang.gov.vn", given_name="Bình")
    html = client.get("/admin/people", query_string={"q": typed}).get_data(as_text=True)
    assert 'id="people-none"' in html


def test_very_long_searches_are_refused_not_run(app, client, make_user):
    make_admin(app, make_user, client)
    for path, name in (("/admin/people", "q"), ("/admin/audit", "subject")):
        answer = client.get(path, query_string={name: "nguyen " * 5000})
        assert answer.status_code in (400, 414), path


def test_a_unit_admin_cannot_reach_their_own_superior_unit(app, client, make_user, vithanh_admin):
    assert client.get("/admin/people?unit=HG").status_code == 403
    assert client.get("/admin/people?unit=HG.NB").status_code == 403


def test_super_admin_cannot_disable_themselves_by_url(app, client, make_user):
    admin = make_admin(app, make_user, client)
    assert post_action(client, admin, "disable").status_code == 409
    assert user_status(app, admin) == "active"


def test_api_idor_across_subtrees(app, client, make_user, districts):
    """The same refusals through the admin API with a unit administrator's own token."""
    from helpers.admin_api import API, bearer, make_tool_client, person_token, problem

    admin = make_user("it.vt@haugiang.gov.vn", PASSWORD, unit="HG.VT")
    grant_unit(app, "it.vt@haugiang.gov.vn", "HG.VT")
    other = make_user("nb@haugiang.gov.vn", unit="HG.NB")
    make_tool_client(app)
    token = bearer(person_token(app, client, "it.vt@haugiang.gov.vn"))
    problem(client.get(f"{API}/people/{other}", headers=token), 403)
    for name in ("disable", "reset-factors", "end-sessions", "send-reset"):
        problem(client.post(f"{API}/people/{other}/{name}", headers=token), 403)
    problem(client.get(f"{API}/audit?subject=nb@haugiang.gov.vn", headers=token), 403)
    listed = client.get(f"{API}/people?search=%25", headers=token).get_json()["items"]
    assert listed == []
    assert user_status(app, other) == "active"
    assert {e["actor"] for e in events(app, "admin.denied")} == {admin}
