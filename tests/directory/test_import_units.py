"""The units import: a tree in any order, cycles refused, renames and moves as updates."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.csvimport import counts

from idp.audit import AuditEvent
from idp.directory.models import Unit
from idp.extensions import db

TREE = """code,name,kind,parent_code,active
STC-TTR,Thanh tra Sở Tài chính,sub_unit,STC,true
STC,Sở Tài chính,department,HG,true
HG,Ủy ban nhân dân tỉnh Hậu Giang,province,,true
CT,Ủy ban nhân dân huyện Châu Thành,district,HG,
CT-PTP,Phòng Tư pháp huyện Châu Thành,office,CT,true
"""


def tree(app) -> dict[str, tuple[str, str, str | None, bool]]:
    with app.app_context():
        units = db.session.execute(sa.select(Unit)).scalars().all()
        return {
            u.code: (u.name, u.kind, u.parent.code if u.parent else None, u.active) for u in units
        }


def test_children_before_parents_are_created_in_one_run(app, import_csv):
    summary = import_csv("units", TREE)
    assert counts(summary) == (5, 0, 0, 0, 0)
    units = tree(app)
    assert units["STC-TTR"] == ("Thanh tra Sở Tài chính", "sub_unit", "STC", True)
    assert units["HG"] == ("Ủy ban nhân dân tỉnh Hậu Giang", "province", None, True)
    assert units["CT-PTP"][2] == "CT"


def test_second_run_of_the_same_file_changes_nothing(app, import_csv):
    import_csv("units", TREE)
    before = tree(app)
    summary = import_csv("units", TREE)
    assert counts(summary) == (0, 0, 0, 5, 0)
    assert not summary.changed
    assert tree(app) == before


def test_rename_and_reparent_are_updates_and_inactive_is_disabled(app, import_csv):
    import_csv("units", TREE)
    changed = """code,name,kind,parent_code,active
STC-TTR,Thanh tra tỉnh - Chi nhánh Tài chính,sub_unit,HG,true
CT-PTP,Phòng Tư pháp huyện Châu Thành,office,CT,false
STC,Sở Tài chính,department,HG,true
"""
    summary = import_csv("units", changed)
    assert counts(summary) == (0, 1, 1, 1, 0)
    units = tree(app)
    assert units["STC-TTR"] == ("Thanh tra tỉnh - Chi nhánh Tài chính", "sub_unit", "HG", True)
    assert units["CT-PTP"][3] is False


def test_cycles_are_refused_and_the_rest_imported(app, import_csv):
    import_csv("units", TREE)
    text = """code,name,kind,parent_code,active
A,Đơn vị A,other,B,true
B,Đơn vị B,other,C,true
C,Đơn vị C,other,A,true
HG,Ủy ban nhân dân tỉnh Hậu Giang,province,STC-TTR,true
D,Đơn vị D,other,A,true
E,Đơn vị E,other,HG,true
"""
    summary = import_csv("units", text)
    rejected = {r.line: r.reason for r in summary.rejected}
    assert set(rejected) == {2, 3, 4, 5, 6}
    assert rejected[2] == rejected[3] == rejected[4] == "cycle in the unit tree: A → B → C → A"
    # Moving the root under its own grandchild is a cycle through stored units.
    assert rejected[5] == "cycle in the unit tree: HG → STC-TTR → STC → HG"
    assert rejected[6] == "parent unit A was rejected (line 2)"
    assert summary.created == 1
    units = tree(app)
    assert units["E"][2] == "HG" and "A" not in units
    assert units["HG"][2] is None


def test_bad_rows_are_rejected_with_line_numbers_and_never_stop_the_others(app, import_csv):
    text = """code,name,kind,parent_code,active
HG,Ủy ban nhân dân tỉnh Hậu Giang,province,,true
,Không có mã,other,HG,true
X1,,other,HG,true
X2,Đơn vị X2,ministry,HG,true
X3,Đơn vị X3,other,NOWHERE,true
X4,Đơn vị X4,other,HG,maybe
HG,Trùng mã,province,,true
X5,Đơn vị X5,other,X5,true
X6,Đơn vị X6,other,HG
X7,Đơn vị X7,other,HG,true
"""
    summary = import_csv("units", text)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (3, "missing unit code"),
        (4, "missing unit name"),
        (6, "unknown parent unit NOWHERE"),
        (7, "bad active value 'maybe' (expected true or false)"),
        (8, "duplicate in file: unit HG is also on line 2"),
        (9, "unit X5 cannot be its own parent"),
        (10, "missing column: 4 fields, the header has 5"),
    ]
    # An unknown kind is no reason to reject the unit (and every person in it): "other".
    assert [(w.line, w.reason) for w in summary.warnings] == [
        (5, "unit X2: unknown unit kind 'ministry', imported as 'other'")
    ]
    assert summary.created == 3
    assert set(tree(app)) == {"HG", "X2", "X7"}
    assert tree(app)["X2"][1] == "other"


def test_dry_run_counts_the_same_and_writes_nothing(app, import_csv):
    summary = import_csv("units", TREE, dry_run=True)
    assert counts(summary) == (5, 0, 0, 0, 0)
    assert summary.dry_run
    assert tree(app) == {}
    with app.app_context():
        assert db.session.query(AuditEvent).count() == 0


def test_columns_missing_from_the_header_keep_stored_values(app, import_csv):
    import_csv("units", TREE)
    summary = import_csv(
        "units", "code,name\nSTC,Sở Tài chính tỉnh Hậu Giang\nCT,Ủy ban nhân dân huyện Châu Thành\n"
    )
    assert counts(summary) == (0, 1, 0, 1, 0)
    assert tree(app)["STC"] == ("Sở Tài chính tỉnh Hậu Giang", "department", "HG", True)


def test_one_summary_audit_event_per_run(app, import_csv):
    import_csv("units", TREE)
    import_csv("units", TREE)
    with app.app_context():
        events = db.session.query(AuditEvent).order_by(AuditEvent.id).all()
    assert [(e.action, e.actor, e.subject) for e in events] == [
        ("units.import", "cli:tester", "units.csv")
    ] * 2
    assert events[0].detail["created"] == 5 and events[1].detail["unchanged"] == 5
