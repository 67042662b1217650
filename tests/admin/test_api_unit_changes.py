"""The units' re-organisations in the admin API (POST /units/{code}/rename|move|merge|
deactivate): the same service as the console and the command line, the same permission
checks, problem objects for every refusal."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.admin import grant_unit
from helpers.admin_api import API, automation_token, bearer, make_tool_client, person_token, problem
from helpers.people import PASSWORD

from idp.audit import AuditEvent
from idp.directory.models import Unit, User
from idp.extensions import db


def tree(make_unit) -> None:
    make_unit("HG", "Tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("CT", "Huyện Châu Thành", kind="district", parent="HG")
    make_unit("CT-NV", "Phòng Nội vụ", kind="office", parent="CT")
    make_unit("CT-TC", "Phòng Tài chính", kind="office", parent="CT")


def state(app, code: str) -> tuple[str, str | None, bool]:
    with app.app_context():
        unit = db.session.scalars(sa.select(Unit).where(Unit.code == code)).one()
        return unit.name, unit.parent.code if unit.parent else None, unit.active


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_an_automation_client_reorganises(app, client, make_unit, make_user):
    tree(make_unit)
    person = make_user("nv@haugiang.gov.vn", unit="CT-NV")
    token = bearer(automation_token(app, client))

    answer = client.post(
        f"{API}/units/STC/rename", json={"name": "Sở Tài chính tỉnh"}, headers=token
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {
        "unit": {
            "code": "STC",
            "name": "Sở Tài chính tỉnh",
            "kind": "department",
            "parent": "HG",
            "active": True,
        },
        "changed": True,
    }
    answer = client.post(f"{API}/units/CT-TC/move", json={"parent": "STC"}, headers=token)
    assert answer.get_json()["unit"]["parent"] == "STC"
    answer = client.post(f"{API}/units/CT-TC/move", json={"parent": None}, headers=token)
    assert answer.get_json()["unit"]["parent"] is None
    answer = client.post(f"{API}/units/CT-NV/merge", json={"into": "CT-TC"}, headers=token)
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["people"], body["children"], body["unit"]["active"]) == (1, 0, False)
    with app.app_context():
        assert (
            db.session.scalars(sa.select(User).where(User.sub == person)).one().unit.code == "CT-TC"
        )
    answer = client.post(f"{API}/units/CT/deactivate", headers=token)
    assert answer.status_code == 200 and answer.get_json()["unit"]["active"] is False
    assert state(app, "CT")[2] is False
    for action in ("unit.rename", "unit.merge", "unit.deactivate"):
        [event] = events(app, action)
        assert event.actor == "automation"
    assert len(events(app, "unit.move")) == 2


def test_refusals_are_problems_and_change_nothing(app, client, make_unit, make_user):
    tree(make_unit)
    make_user("nv@haugiang.gov.vn", unit="CT-NV")
    token = bearer(automation_token(app, client))
    body = problem(
        client.post(f"{API}/units/CT/move", json={"parent": "CT-NV"}, headers=token), 422
    )
    assert "one of its units" in body["detail"]
    body = problem(client.post(f"{API}/units/CT-NV/deactivate", headers=token), 422)
    assert "still has 1 active people" in body["detail"]
    body = problem(client.post(f"{API}/units/CT/merge", json={"into": "NOPE"}, headers=token), 422)
    assert body["errors"] == [{"pointer": "/into", "detail": "no unit has this code"}]
    problem(client.post(f"{API}/units/CT/move", json={}, headers=token), 422)
    problem(client.post(f"{API}/units/CT/rename", json={"name": ""}, headers=token), 422)
    problem(client.post(f"{API}/units/NOPE/rename", json={"name": "X"}, headers=token), 404)
    assert state(app, "CT") == ("Huyện Châu Thành", "HG", True)
    assert events(app, "unit.move") == [] and events(app, "unit.deactivate") == []


def test_a_unit_administrator_acts_only_inside_their_subtree(app, client, make_unit, make_user):
    tree(make_unit)
    make_tool_client(app)
    sub = make_user("it.ct@haugiang.gov.vn", password=PASSWORD, unit="CT")
    grant_unit(app, "it.ct@haugiang.gov.vn", "CT")
    token = bearer(person_token(app, client, "it.ct@haugiang.gov.vn"))
    refused = [
        ("/units/STC/rename", {"name": "X"}),
        ("/units/CT-NV/move", {"parent": "STC"}),
        ("/units/CT-NV/move", {"parent": None}),
        ("/units/CT-NV/merge", {"into": "STC"}),
        ("/units/STC/merge", {"into": "CT-TC"}),
        ("/units/STC/deactivate", {}),
    ]
    for path, data in refused:
        problem(client.post(API + path, json=data, headers=token), 403)
    assert [e.actor for e in events(app, "admin.denied")] == [sub] * len(refused)
    assert state(app, "STC") == ("Sở Tài chính", "HG", True)
    assert state(app, "CT-NV") == ("Phòng Nội vụ", "CT", True)
    answer = client.post(f"{API}/units/CT-NV/merge", json={"into": "CT-TC"}, headers=token)
    assert answer.status_code == 200
    [event] = events(app, "unit.merge")
    assert event.actor == sub


def test_the_tree_is_the_callers_subtrees(app, client, make_unit, make_user):
    tree(make_unit)
    make_user("nv@haugiang.gov.vn", unit="CT-NV")
    make_tool_client(app)
    make_user("it.ct@haugiang.gov.vn", password=PASSWORD, unit="CT")
    grant_unit(app, "it.ct@haugiang.gov.vn", "CT")
    everything = client.get(f"{API}/unit-tree", headers=bearer(automation_token(app, client)))
    [root] = everything.get_json()["roots"]
    assert root["code"] == "HG"
    assert [c["code"] for c in root["children"]] == ["CT", "STC"]
    token = bearer(person_token(app, client, "it.ct@haugiang.gov.vn"))
    [ct] = client.get(f"{API}/unit-tree", headers=token).get_json()["roots"]
    assert (ct["code"], ct["parent"], ct["people"]) == ("CT", "HG", 1)
    assert [(c["code"], c["people"]) for c in ct["children"]] == [("CT-NV", 1), ("CT-TC", 0)]
