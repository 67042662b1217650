"""argon2id hashing, re-hashing on sign-in, and the password policy."""

from __future__ import annotations

import unicodedata

import pytest
from argon2 import PasswordHasher

from idp.directory.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from idp.directory.store import find_user_by_address


def test_default_parameters_are_owasp_argon2id(sqlite_app):
    from idp.settings import load_settings

    defaults = load_settings()
    assert (defaults["ARGON2_MEMORY_KIB"], defaults["ARGON2_TIME_COST"]) == (19456, 2)
    assert defaults["ARGON2_PARALLELISM"] == 1
    sqlite_app.config.update(ARGON2_MEMORY_KIB=19456, ARGON2_TIME_COST=2)
    with sqlite_app.app_context():
        stored = hash_password("Một mật khẩu đủ dài")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_accepts_the_password_and_refuses_others(sqlite_app):
    with sqlite_app.app_context():
        stored = hash_password("Hoa-sen-nở-giữa-đầm")
        assert verify_password(stored, "Hoa-sen-nở-giữa-đầm")
        assert not verify_password(stored, "Hoa-sen-nở-giữa-đầm ")
        assert not verify_password(stored, "")
        assert not verify_password(None, "anything")
        assert not verify_password("not a hash", "anything")


def test_composed_and_decomposed_vietnamese_spellings_are_the_same_password(sqlite_app):
    composed = unicodedata.normalize("NFC", "Trường-Sơn-hùng-vĩ-1975")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    with sqlite_app.app_context():
        assert verify_password(hash_password(composed), decomposed)


def test_changed_parameters_mean_rehash(sqlite_app):
    with sqlite_app.app_context():
        stored = hash_password("Bánh-xèo-miền-Tây-2026")
        assert not needs_rehash(stored)
    sqlite_app.config["ARGON2_TIME_COST"] = sqlite_app.config["ARGON2_TIME_COST"] + 1
    with sqlite_app.app_context():
        assert needs_rehash(stored)
        assert needs_rehash("garbage")


def test_sign_in_rehashes_when_parameters_changed(app, auth, make_user):
    old = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    make_user(password=None)
    with app.app_context():
        from idp.extensions import db

        user = find_user_by_address("nguyen.van.an@haugiang.gov.vn")
        user.password_hash = old.hash("Mật-khẩu-đủ-dài-2026")
        db.session.commit()
    assert auth.login().status_code == 302
    with app.app_context():
        user = find_user_by_address("nguyen.van.an@haugiang.gov.vn")
        cfg = app.config
        expected = f"m={cfg['ARGON2_MEMORY_KIB']},t={cfg['ARGON2_TIME_COST']},p=1"
        assert expected in user.password_hash
        assert verify_password(user.password_hash, "Mật-khẩu-đủ-dài-2026")


def test_failed_sign_in_does_not_rehash(app, auth, make_user):
    old = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    make_user(password=None)
    with app.app_context():
        from idp.extensions import db

        user = find_user_by_address("nguyen.van.an@haugiang.gov.vn")
        user.password_hash = stored = old.hash("Mật-khẩu-đủ-dài-2026")
        db.session.commit()
    assert auth.login(password="sai mật khẩu rồi").status_code == 401
    with app.app_context():
        assert find_user_by_address("nguyen.van.an@haugiang.gov.vn").password_hash == stored


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("ngắn", "too_short"),
        ("x" * 300, "too_long"),
        ("matkhau123", "too_common"),
        ("MATKHAU123", "too_common"),
        ("aaaaaaaaaaaa", "too_common"),
        ("nguyen.van.an@haugiang.gov.vn", "contains_email"),
        ("xin-chao-nguyen.van.an-2026", "contains_email"),
        (" có khoảng trắng đầu", "bad_characters"),
        ("có ký tự\x07 điều khiển", "bad_characters"),
    ],
)
def test_policy_refuses_with_a_reason(sqlite_app, password, code):
    with sqlite_app.test_request_context():
        problems = check_password_policy(password, ["nguyen.van.an@haugiang.gov.vn"])
    assert code in [p.code for p in problems]


def test_policy_accepts_a_good_passphrase(sqlite_app):
    with sqlite_app.test_request_context():
        assert check_password_policy("Cầu Cần Thơ nối đôi bờ", ["an@haugiang.gov.vn"]) == []


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "Mật khẩu phải có ít nhất"), ("en", "at least")],
)
def test_policy_messages_in_the_users_language(sqlite_app, lang, expected):
    with sqlite_app.test_request_context(f"/?ui_locales={lang}"):
        problems = check_password_policy("ngắn")
    assert expected in problems[0].message
