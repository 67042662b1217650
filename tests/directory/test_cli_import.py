"""`idp units import` and `idp directory import`: the summary, dry run, JSON, exit statuses."""

from __future__ import annotations

import json

import pytest
from helpers.db import count_rows

from idp.audit import AuditEvent
from idp.directory.models import Unit, User
from idp.extensions import db

UNITS = (
    "code,name,kind,parent_code,active\n"
    "STC,Sở Tài chính,department,HG,true\n"
    "HG,Ủy ban nhân dân tỉnh Hậu Giang,province,,true\n"
)
USERS = (
    "email,aliases,full_name,unit_code,title,phone,status\n"
    "nvan.stc@haugiang.gov.vn,an.nguyen@haugiang.gov.vn an.nv@haugiang.gov.vn,Nguyễn Văn An,STC,"
    "Chuyên viên,,active\n"
    "ttmhanh.stc@haugiang.gov.vn,,Trần Thị Mỹ Hạnh,STC,Giám đốc,+84 293 3871 234,active\n"
)


def write(tmp_path, name: str, text: str, bom: bool = False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return str(path)


def test_units_import_then_again_says_unchanged(app, runner, tmp_path):
    path = write(tmp_path, "units.csv", UNITS)
    first = runner.invoke(args=["units", "import", path])
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        f"{path}: 2 rows of units\n"
        "  created         2\n"
        "  updated         0\n"
        "  disabled        0\n"
        "  unchanged       0\n"
        "  rejected        0\n"
    )
    second = runner.invoke(args=["units", "import", path])
    assert second.exit_code == 0
    assert "  unchanged       2\n" in second.stdout
    assert second.stdout.endswith("Nothing changed: the directory already matches the file.\n")


def test_directory_import_with_bom_and_json_summary(app, runner, tmp_path):
    runner.invoke(args=["units", "import", write(tmp_path, "units.csv", UNITS)])
    path = write(tmp_path, "users.csv", USERS, bom=True)
    result = runner.invoke(args=["directory", "import", path, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {
        "kind": "users",
        "source": path,
        "dry_run": False,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "disabled": 0,
        "unchanged": 0,
        "rejected": 0,
        "changed": True,
        "rejections": [],
        "ignored_columns": [],
        "warnings": [],
    }
    again = json.loads(runner.invoke(args=["directory", "import", path, "--json"]).stdout)
    assert (again["unchanged"], again["changed"]) == (2, False)
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(action="users.import").all()
        assert [e.detail["created"] for e in events] == [2, 0]
        assert [e.subject for e in events] == ["users.csv", "users.csv"]


def test_rejected_rows_are_listed_with_line_numbers_and_exit_3(app, runner, tmp_path):
    runner.invoke(args=["units", "import", write(tmp_path, "units.csv", UNITS)])
    text = USERS + (
        "bad@,,Lê Sai,STC,,,active\n"
        "lvbinh@haugiang.gov.vn,,Lê Văn Bình,NOWHERE,,,active\n"
        "AN.NV@haugiang.gov.vn,,Nguyễn Văn An,STC,,,active\n"
        "short@haugiang.gov.vn,Lê Ngắn\n"
        "ok@haugiang.gov.vn,,Lê Được,STC,,,disabled\n"
    )
    result = runner.invoke(args=["directory", "import", write(tmp_path, "users.csv", text)])
    assert result.exit_code == 3, result.output
    assert "  created         3\n" in result.stdout
    assert "  rejected        4\n" in result.stdout
    assert (
        "    line 4: bad e-mail address 'bad@'\n"
        "    line 5: unknown unit NOWHERE\n"
        "    line 6: duplicate in file: an.nv@haugiang.gov.vn is also on line 2\n"
        "    line 7: missing column: 2 fields, the header has 7\n"
    ) in result.stdout
    assert count_rows(app, User) == 3


def test_dry_run_shows_the_same_summary_and_writes_nothing(app, runner, tmp_path):
    units = write(tmp_path, "units.csv", UNITS)
    dry = runner.invoke(args=["units", "import", units, "--dry-run"])
    assert dry.exit_code == 0
    assert "(dry run)" in dry.stdout and "  created         2\n" in dry.stdout
    assert dry.stdout.endswith("Dry run: nothing was written.\n")
    assert count_rows(app, Unit) == 0
    runner.invoke(args=["units", "import", units])
    dry = runner.invoke(
        args=["directory", "import", write(tmp_path, "u.csv", USERS), "--dry-run", "--json"]
    )
    assert json.loads(dry.stdout)["created"] == 2 and json.loads(dry.stdout)["dry_run"] is True
    assert count_rows(app, User) == 0
    assert count_rows(app, AuditEvent) == 1  # the real units import only


@pytest.mark.parametrize(
    ("command", "text", "message"),
    [
        (
            "directory",
            "mail_address,full_name\nx@haugiang.gov.vn,Lê X\n",
            "Error: bad CSV header: missing column email (the header is 'mail_address,full_name'; "
            "expected columns: email, aliases, full_name, family_name, middle_name, given_name, "
            "unit_code, title, phone, status, roles, password_hash)",
        ),
        (
            "units",
            "code,kind\nHG,province\n",
            "Error: bad CSV header: missing column name (the header "
            "is 'code,kind'; expected columns: code, name, kind, parent_code, active)",
        ),
        ("units", "", "Error: the file is empty: expected a header line"),
    ],
)
def test_bad_header_is_one_line_error_and_writes_nothing(
    app, runner, tmp_path, command, text, message
):
    result = runner.invoke(args=[command, "import", write(tmp_path, "f.csv", text)])
    assert result.exit_code == 1
    assert result.stderr.strip() == message
    assert count_rows(app, Unit) == count_rows(app, User) == count_rows(app, AuditEvent) == 0


def test_unreadable_files(app, runner, tmp_path):
    missing = runner.invoke(args=["directory", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1
    assert (
        missing.stderr.strip()
        == f"Error: cannot read {tmp_path / 'nope.csv'}: No such file or directory"
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,full_name\nx@haugiang.gov.vn,Lê X\n".encode("latin-1"))
    result = runner.invoke(args=["directory", "import", str(latin)])
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == "Error: the file is not UTF-8 text (line 2); save it as CSV UTF-8"
    )
