"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import contextlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import lazy_gettext as _l

from idp.directory import legacy

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=8)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_TIME_COST"], cfg["ARGON2_PARALLELISM"])


def normalize_password(password: str) -> str:
    """NFC form, so the same password typed on different keyboards hashes the same.

    Vietnamese has composed and decomposed spellings of the same letters (ệ vs e + ̣ + ̂).
    """
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    return hasher().hash(normalize_password(password))


# A fixed hash verified against when the account does not exist, so an unknown account
# and a wrong password take the same time.
@lru_cache(maxsize=8)
def _dummy_hash(memory_kib: int, time_cost: int, parallelism: int) -> str:
    return _hasher(memory_kib, time_cost, parallelism).hash("dummy password for timing")


def _dummy_verification(password: str) -> None:
    cfg = current_app.config
    dummy = _dummy_hash(
        cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_TIME_COST"], cfg["ARGON2_PARALLELISM"]
    )
    with contextlib.suppress(VerificationError):
        hasher().verify(dummy, "not the password" + password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; a missing or unreadable hash never matches.

    A legacy hash (idp.directory.legacy: imported from the mail system) is checked by its
    scheme, and an argon2 verification is made beside it, so that an account with a fast
    legacy hash (a salted SHA) answers in the time of any other account or of none.
    """
    ph = hasher()
    if not stored_hash:
        _dummy_verification(password)
        return False
    if not legacy.is_argon2(stored_hash):
        _dummy_verification(password)
        return legacy.verify_legacy(stored_hash, password)
    try:
        return ph.verify(stored_hash, normalize_password(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True for a legacy hash (replaced by argon2id at its owner's first sign-in) and for an
    argon2 hash made with other parameters than the configured ones."""
    if not legacy.is_argon2(stored_hash):
        return True
    try:
        return hasher().check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(
            line.strip().casefold() for line in fh if line.strip() and not line.startswith("#")
        )


@dataclass(frozen=True)
class PolicyViolation:
    code: str
    message: str


def check_password_policy(
    password: str, emails: list[str] | tuple[str, ...] = ()
) -> list[PolicyViolation]:
    """Every way the password breaks the policy; empty when it is acceptable.

    Messages are lazy strings, rendered in the current locale (Vietnamese by default).
    """
    cfg = current_app.config
    pw = normalize_password(password)
    problems: list[PolicyViolation] = []
    if len(pw) < cfg["PASSWORD_MIN_LENGTH"]:
        problems.append(
            PolicyViolation(
                "too_short",
                str(_l("Mật khẩu phải có ít nhất %(n)d ký tự.", n=cfg["PASSWORD_MIN_LENGTH"])),
            )
        )
    if len(pw) > cfg["PASSWORD_MAX_LENGTH"]:
        problems.append(
            PolicyViolation(
                "too_long",
                str(_l("Mật khẩu không được dài quá %(n)d ký tự.", n=cfg["PASSWORD_MAX_LENGTH"])),
            )
        )
    if pw.strip() != pw or any(unicodedata.category(c).startswith("C") for c in pw):
        problems.append(
            PolicyViolation(
                "bad_characters",
                str(_l("Mật khẩu không được chứa ký tự điều khiển hoặc khoảng trắng ở đầu, cuối.")),
            )
        )
    lowered = pw.casefold()
    for email in emails:
        address = email.strip().casefold()
        local = address.split("@", 1)[0]
        if address and (lowered == address or (len(local) >= 4 and local in lowered)):
            problems.append(
                PolicyViolation(
                    "contains_email",
                    str(_l("Mật khẩu không được trùng hoặc chứa địa chỉ thư điện tử của bạn.")),
                )
            )
            break
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        problems.append(
            PolicyViolation(
                "too_common",
                str(_l("Mật khẩu này quá phổ biến, dễ bị đoán. Hãy chọn mật khẩu khác.")),
            )
        )
    return problems
