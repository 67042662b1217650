"""Attacks on the imported legacy hashes (idp.directory.legacy): a hash typed as the
password, a clear-text "scheme", bcrypt's 72-byte limit, and work factors chosen to make
every sign-in attempt burn the server's CPU or memory."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import csvimport, hashtools

from idp.directory.legacy import imported_hash, verify_legacy
from idp.directory.models import User
from idp.extensions import db

PASSWORD = "Thư điện tử tỉnh 2020"
UNITS = "code,name,kind,parent_code\nHG,Tỉnh Hậu Giang,province,\n"


@pytest.fixture
def import_csv(app):
    return lambda kind, text: csvimport.import_csv(app, kind, text)


def stored(app, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(sa.select(User.password_hash).where(User.email == email))


def import_one(import_csv, value: str):
    import_csv("units", UNITS)
    return import_csv(
        "users", f'email,full_name,unit_code,password_hash\nan@hg.gov.vn,Lê An,HG,"{value}"\n'
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: hashtools.slappasswd(PASSWORD),
        lambda: hashtools.slappasswd_crypt(PASSWORD),
        lambda: hashtools.htpasswd_bcrypt(PASSWORD),
        lambda: hashtools.ldap_pbkdf2_sha512(PASSWORD),
    ],
    ids=["ssha", "crypt", "bcrypt", "pbkdf2"],
)
def test_the_hash_itself_is_never_a_password(app, auth, import_csv, make):
    """Pass-the-hash: whoever read the mail system's directory has the hashes, not the
    passwords. Neither the hash as exported nor as kept signs in."""
    exported = make()
    import_one(import_csv, exported)
    kept = stored(app, "an@hg.gov.vn")
    for guess in {exported, kept, kept.split("}", 1)[-1]}:
        assert auth.login(email="an@hg.gov.vn", password=guess).status_code == 401
    assert stored(app, "an@hg.gov.vn") == kept


@pytest.mark.parametrize(
    "value",
    ["{CLEARTEXT}" + PASSWORD, "{cleartext}secret-2020", "{PLAIN}secret", PASSWORD, "secret"],
)
def test_a_password_in_clear_is_refused_at_import(app, auth, import_csv, value):
    summary = import_one(import_csv, value)
    assert summary.created == 0 and len(summary.rejected) == 1
    assert "password hash" in summary.rejected[0].reason
    assert stored(app, "an@hg.gov.vn") is None
    assert auth.login(email="an@hg.gov.vn", password=value).status_code == 401


def test_bcrypt_never_accepts_a_password_it_only_partly_checked(app, auth, import_csv):
    """bcrypt reads 72 bytes: a longer password sharing them is refused, not truncated, and a
    very long one is a refusal, never an error."""
    first = "Đ" * 36  # 72 bytes in UTF-8
    import_one(import_csv, hashtools.htpasswd_bcrypt(first))
    kept = stored(app, "an@hg.gov.vn")
    assert auth.login(email="an@hg.gov.vn", password=first + "anything").status_code == 401
    assert auth.login(email="an@hg.gov.vn", password="x" * 100_000).status_code in (400, 401)
    assert stored(app, "an@hg.gov.vn") == kept
    assert auth.login(email="an@hg.gov.vn", password=first).status_code == 302


@pytest.mark.parametrize(
    "value",
    [
        "$2b$31$" + "a" * 53,
        "$6$rounds=999999999$saltsalt$" + "a" * 86,
        "{PBKDF2-SHA512}900000000$MDEyMzQ1Njc4OWFiY2RlZg$" + "a" * 86,
        "$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$" + "a" * 43,
    ],
    ids=["bcrypt-31", "crypt-rounds", "pbkdf2-rounds", "argon2-4GiB"],
)
def test_a_work_factor_that_would_exhaust_the_server_is_refused(app, value):
    with app.app_context(), pytest.raises(ValueError, match="accepted"):
        imported_hash(value)


def test_a_value_we_would_not_import_never_verifies(app):
    """Even if such a value reached the column some other way, it matches nothing."""
    with app.app_context():
        for value in ("{CLEARTEXT}secret", "secret", "", "{SSHA}"):
            assert not verify_legacy(value, "secret")
            assert not verify_legacy(value, value)
