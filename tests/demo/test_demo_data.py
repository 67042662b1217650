"""The demo directory's shape and determinism (no database needed)."""

from __future__ import annotations

import re
from collections import Counter

from idp.directory.fields import split_full_name
from idp.directory.models import UNIT_KINDS, ascii_fold
from idp_demo.directory import DEMO_ACCOUNTS, USER_COUNT, generate_units, generate_users


def test_units_have_the_shape_of_the_province():
    units = generate_units()
    assert Counter(u["kind"] for u in units) == {
        "province": 1,
        "department": 24,
        "sub_unit": 77,
        "district": 8,
        "office": 107,
        "commune": 75,
        "high_school": 23,
        "school": 296,
        "health_centre": 93,
    }
    assert all(u["kind"] in UNIT_KINDS for u in units)
    names = {u["name"] for u in units}
    for name in (
        "Sở Tài chính",
        "Phòng Tư pháp huyện Châu Thành",
        "Xã Vị Thủy",
        "Trường THPT Vị Thanh",
        "Trung tâm Y tế huyện Long Mỹ",
        "Trạm Y tế xã Vị Thủy",
        "Ủy ban nhân dân thành phố Ngã Bảy",
    ):
        assert name in names
    codes = [u["code"] for u in units]
    assert len(set(codes)) == len(codes)
    seen: set[str] = set()
    for unit in units:  # parents come first: a plain top-down import works too
        assert unit["parent_code"] == "" or unit["parent_code"] in seen
        seen.add(unit["code"])


def test_people_are_deterministic_with_unique_ascii_addresses():
    units = generate_units()
    first, second = generate_users(units), generate_users(generate_units())
    assert first == second
    assert len(first) == USER_COUNT
    addresses = [u["email"] for u in first] + [a for u in first for a in u["aliases"].split() if a]
    assert len(set(addresses)) == len(addresses)
    assert all(re.fullmatch(r"[a-z0-9.]+@haugiang\.gov\.vn", a) for a in addresses)
    assert 0.10 < sum(1 for u in first if u["aliases"]) / USER_COUNT < 0.20
    unit_codes = {u["code"] for u in units}
    assert all(u["unit_code"] in unit_codes for u in first)
    statuses = Counter(u["status"] for u in first)
    assert statuses["disabled"] > 0 and statuses["active"] > 9000


def test_names_are_vietnamese_with_diacritics_and_the_address_follows_the_name():
    people = generate_users(generate_units())
    families = Counter(split_full_name(u["full_name"])[0] for u in people)
    for family in (
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
    ):
        assert families[family] > 0, family
    assert families.most_common(1)[0][0] == "Nguyễn"
    with_marks = sum(1 for u in people if ascii_fold(u["full_name"]) != u["full_name"])
    assert with_marks / len(people) > 0.9
    assert any(len(u["full_name"].split()) == 4 for u in people)  # two middle names
    for person in people[len(DEMO_ACCOUNTS) : 50]:
        family, middle, given = split_full_name(person["full_name"])
        initials = "".join(w[0] for w in ascii_fold(f"{family} {middle}").lower().split())
        assert person["email"].startswith(initials + ascii_fold(given).lower())


def test_demo_accounts_are_first_with_their_roles():
    people = generate_users(generate_units())
    demo = len(DEMO_ACCOUNTS)
    assert [p["email"] for p in people[:demo]] == [a.email for a in DEMO_ACCOUNTS]
    assert [p["roles"] for p in people[:demo]] == ["admin", "", ""]
