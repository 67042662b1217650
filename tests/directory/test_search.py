"""Folding names for search, keeping the folded copy current, and migration 0018 filling it."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa

from idp.directory.models import fold_for_search


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Nguyễn Văn A", "nguyen van a"),
        ("ĐẶNG THỊ ĐÀO", "dang thi dao"),
        ("  Lê   Thị\tHồng  ", "le thi hong"),
        (unicodedata.normalize("NFD", "Phạm Minh Tuấn"), "pham minh tuan"),
        (unicodedata.normalize("NFC", "Phạm Minh Tuấn"), "pham minh tuan"),
        ("Huỳnh Ngọc Ẩn", "huynh ngoc an"),
        ("", ""),
    ],
)
def test_fold_for_search(written, folded):
    assert fold_for_search(written) == folded


def test_the_folded_name_follows_every_change(app, make_user):
    from idp.directory import service
    from idp.directory.store import find_user_by_sub
    from idp.extensions import db

    sub = make_user("a@haugiang.gov.vn", family_name="Đỗ", middle_name="Thị", given_name="Ánh")
    with app.test_request_context():
        user = find_user_by_sub(sub)
        assert user.search_name == "do thi anh"
        service.update_user(user, actor="test", name="Trần Quốc Đạt")
        db.session.commit()
        assert find_user_by_sub(sub).search_name == "tran quoc dat"


def test_migration_fills_the_folded_name_of_existing_people(app, database_url):
    from flask_migrate import downgrade, upgrade

    from idp.extensions import db

    with app.app_context():
        downgrade(revision="0015_unit_admins")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (sub, email, family_name, middle_name, given_name, roles,"
                    " status, created_at, updated_at, must_change_password) VALUES ('s1',"
                    " 'x@haugiang.gov.vn', 'Nguyễn', 'Văn', 'Đức', '[]', 'active',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            folded = conn.execute(sa.text("SELECT search_name FROM users WHERE sub = 's1'"))
            assert folded.scalar_one() == "nguyen van duc"


def test_people_written_by_the_csv_import_are_found_and_follow_a_rename(
    app, client, make_user, make_unit
):
    from helpers.admin import make_admin
    from helpers.csvimport import import_csv
    from helpers.search import found_by, stale_search_names

    make_unit("HG", kind="province")
    imported = import_csv(
        app,
        "users",
        "email,full_name,unit_code\n"
        "a@haugiang.gov.vn,Nguyễn Văn A,HG\n"
        "b@haugiang.gov.vn,Đặng Thị Đào,HG\n",
    )
    assert imported.created == 2 and not imported.rejected
    assert found_by(app, "nguyen van a") == ["a@haugiang.gov.vn"]
    assert found_by(app, "dang thi dao") == ["b@haugiang.gov.vn"]
    make_admin(app, make_user, client)
    page = client.get("/admin/people?q=nguyen+van+a").get_data(as_text=True)
    assert "Nguyễn Văn A" in page and "Đặng Thị Đào" not in page

    renamed = import_csv(app, "users", "email,full_name\nb@haugiang.gov.vn,Trần Quốc Đạt\n")
    assert renamed.updated == 1
    assert found_by(app, "tran quoc dat") == ["b@haugiang.gov.vn"]
    assert found_by(app, "dang thi dao") == []
    assert stale_search_names(app) == []


def test_a_bulk_write_of_part_of_a_name_is_refused(app, make_user):
    from idp.directory import records
    from idp.directory.store import find_user_by_sub

    sub = make_user("a@haugiang.gov.vn", family_name="Đỗ", middle_name="Thị", given_name="Ánh")
    with app.test_request_context():
        user_id = find_user_by_sub(sub).id
        with pytest.raises(ValueError, match="a name is written whole"):
            records.update_users([{"id": user_id, "given_name": "Bình"}])
