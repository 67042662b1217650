"""The admin API's people and audit endpoints: search and pages, a person, the actions,
the audit log with filters, and the scope of a unit administrator's token."""

from __future__ import annotations

import pytest
from helpers.admin import grant_unit
from helpers.admin_api import (
    API,
    automation_token,
    bearer,
    make_tool_client,
    person_token,
    problem,
)
from helpers.console import events, user_status
from helpers.mailbox import queued
from helpers.people import EMAIL, PASSWORD
from helpers.session_flow import signed_in_browser


@pytest.fixture
def tree(make_unit):
    make_unit("HG", kind="province")
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district", parent="HG")
    make_unit("HG.VT.P1", kind="commune", parent="HG.VT")
    make_unit("HG.NB", kind="district", parent="HG")


@pytest.fixture
def token(app, client):
    return bearer(automation_token(app, client))


def test_search_pages_by_keyset(app, client, make_user, token, tree):
    for n in range(7):
        make_user(f"p{n}@haugiang.gov.vn", given_name=f"Đào{n}", unit="HG.VT.P1")
    make_user("x@haugiang.gov.vn", family_name="Trần", given_name="Bình", unit="HG.NB")
    first = client.get(f"{API}/people?search=nguyen+van+dao&limit=5", headers=token)
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    assert [p["name"] for p in body["items"]] == [f"Nguyễn Văn Đào{n}" for n in range(5)]
    second = client.get(body["next"], headers=token).get_json()
    assert [p["name"] for p in second["items"]] == ["Nguyễn Văn Đào5", "Nguyễn Văn Đào6"]
    assert second["next"] is None
    by_unit = client.get(f"{API}/people?unit=HG.NB", headers=token).get_json()
    assert [p["email"] for p in by_unit["items"]] == ["x@haugiang.gov.vn"]
    assert by_unit["items"][0]["unit"]["path"] == ["HG", "HG.NB"]
    unknown = client.get(f"{API}/people?unit=NO.SUCH", headers=token).get_json()
    assert unknown["items"] == []
    by_address = client.get(f"{API}/people?search=P3@HAUGIANG", headers=token).get_json()
    assert [p["email"] for p in by_address["items"]] == ["p3@haugiang.gov.vn"]


@pytest.mark.parametrize("query", ["status=gone", "search=" + "x" * 201, "q=a", "limit=0"])
def test_bad_list_parameters_are_422(client, token, query):
    problem(client.get(f"{API}/people?{query}", headers=token), 422)


def test_get_person_and_404(app, client, make_user, token, tree):
    sub = make_user(EMAIL, unit="HG.VT", roles=["editor"])
    grant_unit(app, EMAIL, "HG.VT")
    signed_in_browser(app)
    person = client.get(f"{API}/people/{sub}", headers=token).get_json()
    assert person["sub"] == sub and person["roles"] == ["editor"]
    assert person["administers"] == ["HG.VT"]
    assert len(person["sessions"]) == 1
    assert person["factors"]["passkeys"] == []
    problem(client.get(f"{API}/people/nobody", headers=token), 404)


def test_actions_with_the_client_as_actor(app, client, make_user, token):
    sub = make_user(EMAIL)
    signed_in_browser(app)
    answer = client.post(f"{API}/people/{sub}/disable", headers=token)
    assert answer.get_json() == {"sub": sub, "outcome": "disabled", "count": 0}
    assert user_status(app, sub) == "disabled"
    assert events(app, "user.disable")[-1]["actor"] == "automation"
    problem(client.post(f"{API}/people/{sub}/send-reset", headers=token), 409)
    assert client.post(f"{API}/people/{sub}/enable", headers=token).get_json()["outcome"] == (
        "enabled"
    )
    for name in ("send-activation", "send-reset", "unlock", "reset-factors"):
        assert client.post(f"{API}/people/{sub}/{name}", headers=token).status_code == 200
    assert len(queued(app, to=EMAIL)) == 2
    signed_in_browser(app)
    ended = client.post(f"{API}/people/{sub}/end-sessions", headers=token).get_json()
    assert ended["outcome"] == "sessions_ended" and ended["count"] == 1
    problem(client.post(f"{API}/people/{sub}/end-sessions?sid=gone", headers=token), 409)
    problem(client.post(f"{API}/people/{sub}/disable?x=1", headers=token), 422)


def test_read_only_token_cannot_act(app, client, make_user):
    read = bearer(automation_token(app, client, scope="admin:read"))
    sub = make_user(EMAIL)
    problem(client.post(f"{API}/people/{sub}/disable", headers=read), 403)
    assert user_status(app, sub) == "active"


def test_unit_admin_token_stays_in_its_subtree(app, client, make_user, tree):
    mine = make_user("p@haugiang.gov.vn", unit="HG.VT.P1")
    theirs = make_user("q@haugiang.gov.vn", unit="HG.NB")
    admin = make_user("it@haugiang.gov.vn", PASSWORD, unit="HG.VT")
    grant_unit(app, "it@haugiang.gov.vn", "HG.VT")
    make_tool_client(app)
    token = bearer(person_token(app, client, "it@haugiang.gov.vn"))
    listed = client.get(f"{API}/people", headers=token).get_json()
    assert sorted(p["sub"] for p in listed["items"]) == sorted([mine, admin])
    problem(client.get(f"{API}/people?unit=HG.NB", headers=token), 403)
    problem(client.get(f"{API}/people/{theirs}", headers=token), 403)
    problem(client.post(f"{API}/people/{theirs}/disable", headers=token), 403)
    assert user_status(app, theirs) == "active"
    problem(client.get(f"{API}/audit?subject={theirs}", headers=token), 403)
    seen = client.get(f"{API}/audit", headers=token).get_json()["items"]
    assert all(e["subject"] in (mine, admin) for e in seen)
    assert events(app, "admin.denied")[-1]["actor"] == admin


def test_audit_filters_and_keyset_pages(app, client, make_user, token):
    from idp import audit
    from idp.extensions import db

    sub = make_user(EMAIL)
    with app.app_context():
        for n in range(5):
            audit.record("login", actor=sub, subject=sub, ip=f"10.0.0.{n}")
        audit.record("login", actor="anonymous", subject=sub, outcome="failure")
        db.session.commit()
    first = client.get(f"{API}/audit?subject={sub}&action=login&limit=4", headers=token)
    body = first.get_json()
    ids = [e["id"] for e in body["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert body["items"][0]["outcome"] == "failure"
    rest = client.get(body["next"], headers=token).get_json()
    assert [e["id"] for e in rest["items"]] == [min(ids) - 1, min(ids) - 2]
    failures = client.get(f"{API}/audit?outcome=failure&subject={EMAIL}", headers=token)
    assert len(failures.get_json()["items"]) == 1
    ips = client.get(f"{API}/audit?ip=10.0.0.3", headers=token).get_json()["items"]
    assert [e["ip"] for e in ips] == ["10.0.0.3"]
    none = client.get(f"{API}/audit?since=2999-01-01T00:00:00", headers=token).get_json()
    assert none["items"] == []
    problem(client.get(f"{API}/audit?since=yesterday", headers=token), 422)
    problem(client.get(f"{API}/audit?cursor=abc", headers=token), 422)
