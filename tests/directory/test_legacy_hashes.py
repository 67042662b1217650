"""Hashes the mail system stores, brought over by the CSV import: people sign in with the
password they use for mail, and the hash is replaced by argon2id at that first sign-in.

Every hash here is made by the mail systems' own tools at test time (helpers/hashtools.py).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import hashtools

from idp.audit import AuditEvent
from idp.directory.legacy import imported_hash, verify_legacy
from idp.directory.models import User
from idp.extensions import db

PASSWORD = "Mật khẩu thư cũ 2019!"
UNITS = "code,name,kind,parent_code\nHG,Tỉnh Hậu Giang,province,\n"

TOOLS = {
    "ssha": lambda p: hashtools.slappasswd(p, "{SSHA}"),
    "ssha256": lambda p: hashtools.slappasswd(p, "{SSHA256}"),
    "ssha512": lambda p: hashtools.slappasswd(p, "{SSHA512}"),
    "crypt-sha512": lambda p: hashtools.slappasswd_crypt(p, "$6$"),
    "crypt-sha256": lambda p: hashtools.slappasswd_crypt(p, "$5$"),
    "openssl-6": lambda p: hashtools.openssl_crypt(p, "-6"),
    "openssl-5": lambda p: hashtools.openssl_crypt(p, "-5"),
    "htpasswd-bcrypt": hashtools.htpasswd_bcrypt,
    "pw-pbkdf2-sha512": hashtools.ldap_pbkdf2_sha512,
}


def stored_hash(app, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(sa.select(User.password_hash).where(User.email == email))


def people(*rows: tuple[str, str]) -> str:
    lines = ["email,full_name,unit_code,password_hash"]
    lines += [f'{email},Nguyễn Văn An,HG,"{value}"' for email, value in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_a_person_signs_in_with_the_mail_password_and_the_hash_becomes_argon2id(
    app, auth, import_csv, tool
):
    made = TOOLS[tool](PASSWORD)
    import_csv("units", UNITS)
    summary = import_csv("users", people(("an@haugiang.gov.vn", made)))
    assert summary.created == 1 and not summary.rejected
    legacy = stored_hash(app, "an@haugiang.gov.vn")
    assert legacy and not legacy.startswith("$argon2")

    assert (
        auth.login(email="an@haugiang.gov.vn", password="not the mail password").status_code == 401
    )
    assert stored_hash(app, "an@haugiang.gov.vn") == legacy  # a failure changes nothing

    response = auth.login(email="an@haugiang.gov.vn", password=PASSWORD)
    assert response.status_code == 302
    replaced = stored_hash(app, "an@haugiang.gov.vn")
    assert replaced.startswith("$argon2id$")
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "login", AuditEvent.outcome == "success"
            )
        ).one()
        assert event.detail["legacy_hash_replaced"]

    auth.logout()
    assert auth.login(email="an@haugiang.gov.vn", password=PASSWORD).status_code == 302
    assert stored_hash(app, "an@haugiang.gov.vn") == replaced  # argon2id stays


def test_the_password_in_either_unicode_form_matches(app):
    import unicodedata

    made = hashtools.slappasswd(unicodedata.normalize("NFD", PASSWORD))
    with app.app_context():
        kept = imported_hash(made)
        assert verify_legacy(kept, unicodedata.normalize("NFD", PASSWORD))
        assert not verify_legacy(kept, PASSWORD.upper())


BAD = {
    "empty": ("", "empty password hash"),
    "truncated ssha": ("{SSHA}LMROLWtRDgSS", "malformed or truncated ssha hash"),
    "salt only crypt": ("{CRYPT}$6$tryZ6t0Wr1zI7FGz", "truncated sha512-crypt hash"),
    "truncated bcrypt": ("$2y$05$w15CSylBNf51a2tm5S5n/eQOHz", "truncated bcrypt"),
    "unknown scheme": ("{MD4}abcdefgh", "unknown hash scheme {MD4}"),
    "no scheme": ("hunter2hunter2", "not a password hash of a known scheme"),
    "broken brace": ("{SSHA", "'{' without a closing '}'"),
    "argon2 without hash": ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$", "truncated argon2"),
    "argon2 garbage": ("$argon2id$v=19$m=65536,t=3,p=4$abc", "malformed or truncated argon2"),
    "pbkdf2 salt only": ("{PBKDF2-SHA512}10000$MDEyMzQ1Njc4OWFiY2RlZg", "truncated pbkdf2"),
}


def test_bad_hashes_reject_their_row_and_the_others_are_imported(app, import_csv):
    good = hashtools.slappasswd(PASSWORD)
    rows = [("good1@haugiang.gov.vn", good)]
    rows += [(f"bad{i}@haugiang.gov.vn", value) for i, (value, _) in enumerate(BAD.values())]
    rows += [("good2@haugiang.gov.vn", good)]
    import_csv("units", UNITS)
    summary = import_csv("users", people(*rows))
    assert summary.created == 2
    reasons = [r.reason for r in sorted(summary.rejected, key=lambda r: r.line)]
    assert len(reasons) == len(BAD)
    for reason, (_value, expected) in zip(reasons, BAD.values(), strict=True):
        assert reason.startswith("password hash: ") and expected in reason
    assert stored_hash(app, "good1@haugiang.gov.vn") == good
    assert stored_hash(app, "bad0@haugiang.gov.vn") is None


def test_a_re_import_never_brings_back_a_replaced_hash(app, auth, import_csv):
    made = hashtools.openssl_crypt(PASSWORD)
    import_csv("units", UNITS)
    csv = people(("an@haugiang.gov.vn", made))
    import_csv("users", csv)
    assert auth.login(email="an@haugiang.gov.vn", password=PASSWORD).status_code == 302
    replaced = stored_hash(app, "an@haugiang.gov.vn")
    summary = import_csv("users", csv)
    assert (summary.updated, summary.unchanged) == (0, 1)
    assert stored_hash(app, "an@haugiang.gov.vn") == replaced


def test_a_stored_person_without_a_password_gets_the_imported_hash(app, auth, import_csv):
    import_csv("units", UNITS)
    import_csv("users", "email,full_name\nan@haugiang.gov.vn,Nguyễn Văn An\n")
    summary = import_csv(
        "users", people(("an@haugiang.gov.vn", hashtools.htpasswd_bcrypt(PASSWORD)))
    )
    assert summary.updated == 1
    assert auth.login(email="an@haugiang.gov.vn", password=PASSWORD).status_code == 302


def test_the_ldif_header_userpassword_is_read_as_the_hash(app, auth, import_csv):
    import_csv("units", UNITS)
    made = hashtools.slappasswd(PASSWORD, "{SSHA512}")
    summary = import_csv(
        "users", f"mail,name,userPassword\nan@haugiang.gov.vn,Nguyễn Văn An,{made}\n"
    )
    assert summary.created == 1
    assert auth.login(email="an@haugiang.gov.vn", password=PASSWORD).status_code == 302


def test_an_argon2id_hash_is_imported_as_it_is(app, auth, import_csv):
    from argon2 import PasswordHasher

    made = PasswordHasher().hash(PASSWORD)
    import_csv("units", UNITS)
    import_csv("users", people(("an@haugiang.gov.vn", made)))
    assert stored_hash(app, "an@haugiang.gov.vn") == made
    assert auth.login(email="an@haugiang.gov.vn", password=PASSWORD).status_code == 302


def test_an_unknown_account_and_a_legacy_account_each_cost_one_argon2_verification(
    app, auth, import_csv, argon2_verifications
):
    """The fast salted SHA is padded with an argon2 verification, as a missing account is."""
    import_csv("units", UNITS)
    import_csv("users", people(("an@haugiang.gov.vn", hashtools.slappasswd(PASSWORD))))
    argon2_verifications.clear()
    auth.login(email="an@haugiang.gov.vn", password="wrong password 1")
    auth.login(email="nobody@haugiang.gov.vn", password="wrong password 1")
    assert len(argon2_verifications) == 2
