"""The kind names people write in the unit import (UNIT_KIND_NAMES): Vietnamese with or
without diacritics, English spellings, and an unknown name taken as "other" with a warning."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from idp.audit import AuditEvent
from idp.directory.models import Unit
from idp.extensions import db

WRITTEN = """code,name,kind,parent_code
HG,Ủy ban nhân dân tỉnh Hậu Giang,Tỉnh,
STC,Sở Tài chính,Sở,HG
SYT,Sở Y tế,SO,HG
STC-TTR,Thanh tra Sở,sub-unit,STC
TTYT,Trung tâm Y tế huyện,health,SYT
CT,Huyện Châu Thành,Huyện,HG
CT-NV,Phòng Nội vụ,phong,CT
CT-XA,Xã Đông Thạnh,Xã,CT
CT-XB,Xã Đông Phước,xa,CT
CT-TH,Trường THPT Châu Thành,Trường THPT,CT
CT-TR,Trường Tiểu học Đông Thạnh,truong,CT
UB,Ủy ban nhân dân huyện Phụng Hiệp,UBND huyện,HG
UBX,UBND xã,ubnd xa,UB
NEW,Đơn vị mới,Tổ công tác đặc biệt,HG
EMPTY,Không ghi loại,,HG
"""


def kinds(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(sa.select(Unit.code, Unit.kind)).all())


def test_written_kind_names_are_understood(app, import_csv):
    summary = import_csv("units", WRITTEN)
    assert not summary.rejected
    assert kinds(app) == {
        "HG": "province",
        "STC": "department",
        "SYT": "department",
        "STC-TTR": "sub_unit",
        "TTYT": "health_centre",
        "CT": "district",
        "CT-NV": "office",
        "CT-XA": "commune",
        "CT-XB": "commune",
        "CT-TH": "high_school",
        "CT-TR": "school",
        "UB": "district",
        "UBX": "commune",
        "NEW": "other",
        "EMPTY": "other",
    }
    assert [(w.line, w.reason) for w in summary.warnings] == [
        (15, "unit NEW: unknown unit kind 'Tổ công tác đặc biệt', imported as 'other'")
    ]
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "units.import")
        ).one()
        assert event.detail["warnings"] == 1 and event.detail["created"] == 15


def test_decomposed_diacritics_match_too(app, import_csv):
    import unicodedata

    text = unicodedata.normalize("NFD", "code,name,kind\nX,Xã Vị Thanh,Xã\nP,Phòng,Phòng\n")
    summary = import_csv("units", text)
    assert not summary.warnings
    assert kinds(app) == {"X": "commune", "P": "office"}


@pytest.mark.parametrize("app_config", [{"UNIT_KIND_NAMES": {"Khối": "department"}}])
def test_the_mapping_comes_from_the_settings(app, import_csv):
    summary = import_csv("units", "code,name,kind\nK,Khối thi đua,khoi\nS,Sở,Sở\n")
    assert kinds(app) == {"K": "department", "S": "other"}
    assert len(summary.warnings) == 1


@pytest.mark.parametrize("app_config", [{"UNIT_KIND_NAMES": [["Sở", "ministry"]]}])
def test_a_mapping_to_a_kind_that_does_not_exist_stops_the_import(app, runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code,name,kind\nS,Sở,Sở\n")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 1
    assert "names the kind 'ministry'" in result.stderr
    assert kinds(app) == {}


def test_warnings_are_printed_and_in_the_json_summary(app, runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code,name,kind\nA,Đơn vị A,Bộ\nB,Đơn vị B,Sở\n")
    result = runner.invoke(args=["units", "import", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "line 2: unit A: unknown unit kind 'Bộ', imported as 'other'" in result.stdout
    result = runner.invoke(args=["units", "import", "--json", str(path)])
    assert json.loads(result.stdout)["warnings"] == [
        {"line": 2, "reason": "unit A: unknown unit kind 'Bộ', imported as 'other'"}
    ]
