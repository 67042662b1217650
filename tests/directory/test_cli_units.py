"""`idp units list`: the tree, as text and JSON."""

from __future__ import annotations

import json


def test_units_list_tree_text_and_json(runner, make_unit, make_user):
    make_unit("HG", "Ủy ban nhân dân tỉnh Hậu Giang", kind="province")
    make_unit("STC", "Sở Tài chính", parent="HG")
    make_unit("STC-TTR", "Thanh tra Sở Tài chính", kind="sub_unit", parent="STC")
    make_unit("CT", "Ủy ban nhân dân huyện Châu Thành", kind="district", parent="HG")
    make_user("a@haugiang.gov.vn", unit="STC")
    make_user("b@haugiang.gov.vn", unit="STC")
    result = runner.invoke(args=["units", "list"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "HG  Ủy ban nhân dân tỉnh Hậu Giang  [province, 0 users]\n"
        "  CT  Ủy ban nhân dân huyện Châu Thành  [district, 0 users]\n"
        "  STC  Sở Tài chính  [department, 2 users]\n"
        "    STC-TTR  Thanh tra Sở Tài chính  [sub_unit, 0 users]\n"
    )
    tree = json.loads(runner.invoke(args=["units", "list", "--json"]).stdout)
    assert [n["code"] for n in tree] == ["HG"]
    stc = tree[0]["children"][1]
    assert (stc["code"], stc["users"], stc["active"]) == ("STC", 2, True)
    assert stc["children"][0] == {
        "code": "STC-TTR",
        "name": "Thanh tra Sở Tài chính",
        "kind": "sub_unit",
        "active": True,
        "users": 0,
        "children": [],
    }


def test_inactive_units_are_marked(runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "code,name,kind,parent_code,active\nHG,Tỉnh,province,,true\nOLD,Sở cũ,department,HG,false\n"
    )
    assert runner.invoke(args=["units", "import", str(path)]).exit_code == 0
    assert (
        "  OLD  Sở cũ  [department, 0 users]  (inactive)\n"
        in runner.invoke(args=["units", "list"]).stdout
    )


def test_units_list_empty(runner):
    result = runner.invoke(args=["units", "list", "--json"])
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
