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
