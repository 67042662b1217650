"""Parsing of directory field values: names in Vietnamese order, addresses, statuses, roles."""

from __future__ import annotations

import unicodedata

import pytest

from idp.directory.fields import (
    FieldError,
    check_name_parts,
    parse_aliases,
    parse_bool,
    parse_email,
    parse_phone,
    parse_roles,
    parse_status,
    parse_unit_code,
    parse_unit_kind,
    split_full_name,
    unique_addresses,
)
from idp.directory.models import ascii_fold


@pytest.mark.parametrize(
    ("full", "parts"),
    [
        ("Nguyễn Văn An", ("Nguyễn", "Văn", "An")),
        ("Nguyễn Thị Ngọc Hân", ("Nguyễn", "Thị Ngọc", "Hân")),
        ("  Lý   Mai  ", ("Lý", "", "Mai")),
        ("Thạch", ("", "", "Thạch")),
        ("", ("", "", "")),
    ],
)
def test_full_name_splits_family_first(full, parts):
    assert split_full_name(full) == parts


def test_decomposed_vietnamese_is_stored_composed():
    decomposed = unicodedata.normalize("NFD", "Đặng Thị Ánh")
    family, middle, given = split_full_name(decomposed)
    assert (family, middle, given) == ("Đặng", "Thị", "Ánh")
    assert unicodedata.is_normalized("NFC", family + middle + given)


def test_name_must_not_be_empty_or_contain_control_characters():
    with pytest.raises(FieldError, match="missing full name"):
        check_name_parts("", " ", "")
    with pytest.raises(FieldError, match="control characters"):
        check_name_parts("Lê", "", "An\x00")


@pytest.mark.parametrize(
    "address",
    ["an.nv@haugiang.gov.vn", "An.NV+tag@HauGiang.gov.vn", "x@a.vn"],
)
def test_good_addresses_are_kept_as_written(address):
    assert parse_email(f"  {address} ") == address


@pytest.mark.parametrize(
    "address",
    [
        "abc@",
        "@haugiang.gov.vn",
        "an nv@haugiang.gov.vn",
        "an@localhost",
        "an..nv@a.vn",
        "nguyễn@haugiang.gov.vn",
        "a@b@c.vn",
        "x" * 65 + "@a.vn",
    ],
)
def test_bad_addresses_are_refused_with_the_address(address):
    with pytest.raises(FieldError, match="bad e-mail address"):
        parse_email(address)


def test_missing_address():
    with pytest.raises(FieldError, match="missing e-mail address"):
        parse_email("   ")


def test_aliases_split_on_semicolons_commas_and_spaces():
    assert parse_aliases("a@x.vn; b@x.vn  c@x.vn,d@x.vn") == [
        "a@x.vn",
        "b@x.vn",
        "c@x.vn",
        "d@x.vn",
    ]
    assert parse_aliases("") == []
    with pytest.raises(FieldError, match="bad alias 'nope'"):
        parse_aliases("a@x.vn;nope")


def test_unique_addresses_ignore_case_and_keep_the_primary_first():
    assert unique_addresses("An@x.vn", ["an@X.vn", "b@x.vn", "B@x.vn"]) == ["An@x.vn", "b@x.vn"]


def test_status_values():
    assert parse_status("") == "active"
    assert parse_status(" Disabled ") == "disabled"
    with pytest.raises(FieldError, match="bad status 'retired'"):
        parse_status("retired")


def test_roles_and_phone_and_active_flags():
    assert parse_roles("admin; Auditor admin") == ["admin", "auditor"]
    with pytest.raises(FieldError, match="bad role"):
        parse_roles("admin;<script>")
    assert parse_phone(" +84 293 3871 234 ") == "+84 293 3871 234"
    assert parse_phone("") is None
    with pytest.raises(FieldError, match="bad phone number"):
        parse_phone("call me")
    assert parse_bool("Không", "active") is False
    assert parse_bool("", "active") is True
    with pytest.raises(FieldError, match="bad active value"):
        parse_bool("maybe", "active")


def test_unit_codes_and_kinds():
    assert parse_unit_code(" STC-TTR ") == "STC-TTR"
    with pytest.raises(FieldError, match="bad unit code"):
        parse_unit_code("S T C")
    assert parse_unit_kind("") == "other"
    with pytest.raises(FieldError, match="unknown unit kind 'ministry'"):
        parse_unit_kind("ministry")


def test_ascii_fold_strips_diacritics_and_d_bar():
    assert (
        ascii_fold("Đặng Thị Ánh Huỳnh Vũ Đỗ Hồ Ngô Dương Lý")
        == "Dang Thi Anh Huynh Vu Do Ho Ngo Duong Ly"
    )


def test_subs_never_look_like_an_option(monkeypatch):
    """`idp users show SUB` must not read a sub as an option: none starts with "-"."""
    import secrets

    from idp.directory.models import new_sub

    drawn = iter(["-starts-with-a-dash", "fine_sub"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(drawn))
    assert new_sub() == "fine_sub"
