"""The users import: matching by any address, idempotence, rejected rows, dry run, sessions."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.csvimport import counts

from idp.audit import AuditEvent
from idp.directory.models import User, UserEmail
from idp.extensions import db

UNITS = (
    "code,name,kind,parent_code\n"
    "HG,Tỉnh Hậu Giang,province,\n"
    "STC,Sở Tài chính,department,HG\n"
    "SNV,Sở Nội vụ,department,HG\n"
)
HEADER = "email,aliases,full_name,unit_code,title,phone,status,roles\n"
PEOPLE = HEADER + (
    "nvan.stc@haugiang.gov.vn,an.nguyen@haugiang.gov.vn;AN.NV@HG.GOV.VN,Nguyễn Văn An,STC,"
    "Chuyên viên,+84 912 345 678,active,\n"
    "ttmhanh.snv@haugiang.gov.vn,,Trần Thị Mỹ Hạnh,SNV,Giám đốc,,active,admin\n"
    "lvbinh.stc@haugiang.gov.vn,,Lê Văn Bình,,,,disabled,\n"
)


def users(app) -> dict[str, dict]:
    with app.app_context():
        result = {}
        for user in db.session.execute(sa.select(User)).scalars():
            result[user.email] = {
                "sub": user.sub,
                "names": (user.family_name, user.middle_name, user.given_name),
                "aliases": sorted(user.aliases),
                "unit": user.unit.code if user.unit else None,
                "title": user.title,
                "phone": user.phone_number,
                "status": user.status,
                "roles": user.roles,
                "password_hash": user.password_hash,
            }
        return result


def test_import_creates_users_without_passwords(app, import_csv):
    import_csv("units", UNITS)
    summary = import_csv("users", PEOPLE)
    assert counts(summary) == (3, 0, 0, 0, 0)
    stored = users(app)
    an = stored["nvan.stc@haugiang.gov.vn"]
    assert an["names"] == ("Nguyễn", "Văn", "An")
    assert an["aliases"] == ["AN.NV@HG.GOV.VN", "an.nguyen@haugiang.gov.vn"]
    assert (an["unit"], an["title"], an["phone"], an["status"]) == (
        "STC",
        "Chuyên viên",
        "+84 912 345 678",
        "active",
    )
    assert stored["ttmhanh.snv@haugiang.gov.vn"]["names"] == ("Trần", "Thị Mỹ", "Hạnh")
    assert stored["ttmhanh.snv@haugiang.gov.vn"]["roles"] == ["admin"]
    assert stored["lvbinh.stc@haugiang.gov.vn"]["status"] == "disabled"
    assert all(u["password_hash"] is None for u in stored.values())
    with app.app_context():
        keys = sorted(db.session.execute(sa.select(UserEmail.address)).scalars())
    assert "an.nv@hg.gov.vn" in keys and len(keys) == 5


def test_imported_user_without_password_cannot_sign_in(app, client, auth, import_csv):
    import_csv("units", UNITS)
    import_csv("users", PEOPLE)
    response = auth.login(email="nvan.stc@haugiang.gov.vn", password="anything-at-all-2026")
    assert response.status_code == 401  # the sign-in page again, not a redirect onwards
    assert "Địa chỉ thư điện tử hoặc mật khẩu không đúng." in response.get_data(as_text=True)


def test_second_run_changes_nothing_and_says_so(app, import_csv):
    import_csv("units", UNITS)
    import_csv("users", PEOPLE)
    before = users(app)
    summary = import_csv("users", PEOPLE)
    assert counts(summary) == (0, 0, 0, 3, 0)
    assert not summary.changed
    assert users(app) == before


def test_a_changed_primary_address_updates_the_same_user(app, import_csv):
    import_csv("units", UNITS)
    import_csv("users", PEOPLE)
    sub = users(app)["nvan.stc@haugiang.gov.vn"]["sub"]
    # The old alias becomes the primary; the old primary is dropped (aliases column given).
    text = (
        HEADER
        + "An.Nguyen@HauGiang.gov.vn,an.nv@hg.gov.vn,Nguyễn Văn An,SNV,Trưởng phòng,,active,\n"
    )
    summary = import_csv("users", text)
    assert counts(summary) == (0, 1, 0, 0, 0)
    an = users(app)["An.Nguyen@HauGiang.gov.vn"]
    assert an["sub"] == sub
    assert an["aliases"] == ["an.nv@hg.gov.vn"]
    assert (an["unit"], an["title"], an["phone"]) == ("SNV", "Trưởng phòng", None)


def test_without_an_aliases_column_a_new_primary_keeps_the_old_addresses(app, import_csv):
    import_csv("units", UNITS)
    import_csv("users", PEOPLE)
    sub = users(app)["nvan.stc@haugiang.gov.vn"]["sub"]
    summary = import_csv("users", "email,full_name\nan.nguyen@haugiang.gov.vn,Nguyễn Văn An\n")
    assert counts(summary) == (0, 1, 0, 0, 0)
    an = users(app)["an.nguyen@haugiang.gov.vn"]
    assert an["sub"] == sub
    assert an["aliases"] == ["AN.NV@HG.GOV.VN", "nvan.stc@haugiang.gov.vn"]
    assert an["unit"] == "STC" and an["title"] == "Chuyên viên"  # columns not in the file are kept


def test_explicit_name_columns_win_over_full_name(app, import_csv):
    text = (
        "email,full_name,family_name,middle_name,given_name\n"
        "tnlan@haugiang.gov.vn,Tôn Nữ Lan,Tôn Nữ,,Lan\n"
    )
    import_csv("users", text)
    assert users(app)["tnlan@haugiang.gov.vn"]["names"] == ("Tôn Nữ", "", "Lan")


def test_malformed_rows_are_rejected_with_line_numbers_and_reasons(app, import_csv):
    import_csv("units", UNITS)
    import_csv("users", PEOPLE)
    text = HEADER + (
        "ok1@haugiang.gov.vn,,Phạm Văn Một,STC,,,active,\n"  # 2
        "abc@,,Phạm Văn Hai,STC,,,active,\n"  # 3
        "ok3@haugiang.gov.vn,,Phạm Văn Ba,NOWHERE,,,active,\n"  # 4
        "nvan.stc@haugiang.gov.vn,TTMHanh.SNV@haugiang.gov.vn,Nguyễn Văn An,STC,,,active,\n"  # 5
        "OK1@haugiang.gov.vn,,Phạm Văn Một,STC,,,active,\n"  # 6
        "ok6@haugiang.gov.vn,,Phạm Văn Sáu,STC,,,retired,\n"  # 7
        "ok7@haugiang.gov.vn,,,STC,,,active,\n"  # 8
        "ok8@haugiang.gov.vn,Phạm Văn Tám,STC\n"  # 9
        "ok9@haugiang.gov.vn,,Phạm Văn Chín,STC,,số máy bàn,active,\n"  # 10
        "ok10@haugiang.gov.vn,ok1@haugiang.gov.vn,Phạm Văn Mười,STC,,,active,\n"  # 11
        "ok11@haugiang.gov.vn,,Phạm Văn Mười Một,STC,,,active,\n"  # 12
    )
    summary = import_csv("users", text)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (3, "bad e-mail address 'abc@'"),
        (4, "unknown unit NOWHERE"),
        (
            5,
            "address ttmhanh.snv@haugiang.gov.vn already belongs to another user "
            "(ttmhanh.snv@haugiang.gov.vn)",
        ),
        (6, "duplicate in file: ok1@haugiang.gov.vn is also on line 2"),
        (7, "bad status 'retired' (expected active or disabled)"),
        (8, "missing full name"),
        (9, "missing column: 3 fields, the header has 8"),
        (10, "bad phone number 'số máy bàn'"),
        (11, "duplicate in file: ok1@haugiang.gov.vn is also on line 2"),
    ]
    assert counts(summary)[:4] == (2, 0, 0, 0)
    stored = users(app)
    assert "ok1@haugiang.gov.vn" in stored and "ok11@haugiang.gov.vn" in stored
    assert stored["nvan.stc@haugiang.gov.vn"]["aliases"] == [
        "AN.NV@HG.GOV.VN",
        "an.nguyen@haugiang.gov.vn",
    ]


def test_aliases_are_unique_across_users_whatever_their_case(app, import_csv, make_user):
    make_user("nguyen.van.an@haugiang.gov.vn", aliases=["an.nv@haugiang.gov.vn"])
    make_user("lthoa@haugiang.gov.vn", family_name="Lê", middle_name="Thị", given_name="Hoa")
    text = "email,aliases,full_name\nlthoa@haugiang.gov.vn,AN.NV@HAUGIANG.GOV.VN,Lê Thị Hoa\n"
    summary = import_csv("users", text)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (
            2,
            "address an.nv@haugiang.gov.vn already belongs to another user "
            "(nguyen.van.an@haugiang.gov.vn)",
        )
    ]
    assert users(app)["lthoa@haugiang.gov.vn"]["aliases"] == []
    # A new person listing someone's alias in any case is that someone: matched, not duplicated.
    text = "email,aliases,full_name\nan.moi@haugiang.gov.vn,AN.NV@HAUGIANG.GOV.VN,Nguyễn Văn An\n"
    assert import_csv("users", text).updated == 1
    assert users(app)["an.moi@haugiang.gov.vn"]["aliases"] == ["AN.NV@HAUGIANG.GOV.VN"]


def test_addresses_of_two_users_in_one_row_are_refused(app, import_csv, make_user):
    make_user("a@haugiang.gov.vn")
    make_user("b@haugiang.gov.vn")
    summary = import_csv(
        "users", "email,aliases,full_name\na@haugiang.gov.vn,b@haugiang.gov.vn,Lê An\n"
    )
    assert (
        summary.rejected[0].reason
        == "address b@haugiang.gov.vn already belongs to another user (b@haugiang.gov.vn)"
    )


def test_an_address_released_earlier_in_the_file_can_move_to_another_user(app, import_csv):
    import_csv("users", "email,aliases,full_name\na@haugiang.gov.vn,shared@haugiang.gov.vn,Lê An\n")
    text = (
        "email,aliases,full_name\n"
        "a@haugiang.gov.vn,,Lê An\n"
        "b@haugiang.gov.vn,shared@haugiang.gov.vn,Lê Bình\n"
    )
    summary = import_csv("users", text)
    assert counts(summary) == (1, 1, 0, 0, 0)
    stored = users(app)
    assert stored["a@haugiang.gov.vn"]["aliases"] == []
    assert stored["b@haugiang.gov.vn"]["aliases"] == ["shared@haugiang.gov.vn"]
    assert counts(import_csv("users", text)) == (0, 0, 0, 2, 0)


def test_disabling_by_import_counts_as_disabled_and_ends_sessions(app, import_csv, make_user):
    from idp.directory.store import find_user_by_address
    from idp.sessions.models import SsoSession
    from idp.sessions.store import start_session

    make_user("an@haugiang.gov.vn")
    with app.test_request_context():
        start_session(find_user_by_address("an@haugiang.gov.vn"), amr=["pwd"], acr="1")
        db.session.commit()
    summary = import_csv(
        "users", "email,full_name,status\nan@haugiang.gov.vn,Nguyễn Văn An,disabled\n"
    )
    assert counts(summary) == (0, 0, 1, 0, 0)
    with app.app_context():
        sso = db.session.execute(sa.select(SsoSession)).scalar_one()
        assert sso.ended_at is not None and sso.end_reason == "user_disabled"
    assert users(app)["an@haugiang.gov.vn"]["password_hash"] is not None  # passwords untouched
    enabled = import_csv(
        "users", "email,full_name,status\nan@haugiang.gov.vn,Nguyễn Văn An,active\n"
    )
    assert counts(enabled) == (0, 1, 0, 0, 0)


def test_dry_run_reports_the_same_summary_and_writes_nothing(app, import_csv):
    import_csv("units", UNITS)
    dry = import_csv("users", PEOPLE, dry_run=True)
    assert counts(dry) == (3, 0, 0, 0, 0)
    assert users(app) == {}
    real = import_csv("users", PEOPLE)
    assert counts(real) == counts(dry)
    changed = PEOPLE.replace("Chuyên viên", "Chuyên viên chính").replace(",disabled,", ",active,")
    dry = import_csv("users", changed, dry_run=True)
    assert counts(dry) == (0, 2, 0, 1, 0)
    assert users(app)["nvan.stc@haugiang.gov.vn"]["title"] == "Chuyên viên"
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent).all()]
    assert actions == ["units.import", "users.import"]


def test_one_audit_event_per_run_with_the_counts(app, import_csv):
    import_csv("units", UNITS)
    import_csv("users", PEOPLE + "bad,,Lê Sai,,,,,\n")
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="users.import").one()
    assert event.outcome == "partial"
    assert event.detail["created"] == 3 and event.detail["rejected"] == 1


def test_progress_is_reported_for_every_row(app, import_csv):
    rows = "".join(f"u{i}@haugiang.gov.vn,,Nguyễn Văn Số{i},,,,active,\n" for i in range(450))
    steps: list[int] = []
    summary = import_csv("users", HEADER + rows, progress=steps.append)
    assert summary.created == 450
    assert sum(steps) == 450 and len(steps) == 3
