"""Parsing and checking the values of directory fields, shared by the import and the commands.

Each `parse_*` function takes the text an operator wrote and returns the stored value, or
raises FieldError with a short English reason that the import shows next to the line number.
"""

from __future__ import annotations

import re
import unicodedata

from idp.directory.models import UNIT_KINDS, USER_STATUSES, normalize_email

EMAIL_MAX_LENGTH = 320
EMAIL_LOCAL_MAX_LENGTH = 64
NAME_PART_MAX_LENGTH = 128
TITLE_MAX_LENGTH = 255
UNIT_NAME_MAX_LENGTH = 255
UNIT_CODE_MAX_LENGTH = 64
PHONE_MAX_LENGTH = 32

# Deliberately narrower than RFC 5322: the addresses of the province's mail system are plain
# ASCII local parts at a dotted domain. No quoted local parts, no IP literals.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 .()-]*[0-9]$")
_ROLE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
_LIST_SPLIT_RE = re.compile(r"[;,\s]+")

_TRUE = {"1", "true", "yes", "y", "active", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "inactive", "không", "khong"}


class FieldError(ValueError):
    """A value that cannot be stored; str(exc) is the reason shown to the operator."""


def clean(value: str | None) -> str:
    """Trimmed, NFC-normalised text: composed and decomposed Vietnamese letters compare equal."""
    return unicodedata.normalize("NFC", (value or "").strip())


def parse_email(value: str | None, what: str = "e-mail address") -> str:
    """An address as written (trimmed); its normalised form is normalize_email(result)."""
    address = clean(value)
    if not address:
        raise FieldError(f"missing {what}")
    local = address.rsplit("@", 1)[0]
    if (
        len(address) > EMAIL_MAX_LENGTH
        or len(local) > EMAIL_LOCAL_MAX_LENGTH
        or not _EMAIL_RE.match(address)
    ):
        raise FieldError(f"bad {what} {address!r}")
    return address


def parse_aliases(value: str | None) -> list[str]:
    """Aliases separated by ';', ',' or spaces; each a valid address."""
    aliases = []
    for part in _LIST_SPLIT_RE.split(clean(value)):
        if part:
            aliases.append(parse_email(part, "alias"))
    return aliases


def unique_addresses(primary: str, aliases: list[str]) -> list[str]:
    """Primary first, then the aliases, without case-insensitive repeats."""
    seen: set[str] = set()
    result = []
    for address in [primary, *aliases]:
        key = normalize_email(address)
        if key not in seen:
            seen.add(key)
            result.append(address)
    return result


def split_full_name(value: str | None) -> tuple[str, str, str]:
    """(family, middle, given) from a name in Vietnamese order: "Nguyễn Thị Ngọc Hân".

    The first word is the family name, the last the given name, and everything between the
    middle name. A single word is taken as the given name. Compound family names ("Tôn Nữ")
    need the explicit family_name column.
    """
    words = clean(value).split()
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]


def check_name_parts(family: str, middle: str, given: str) -> tuple[str, str, str]:
    parts = (
        " ".join(clean(family).split()),
        " ".join(clean(middle).split()),
        " ".join(clean(given).split()),
    )
    if not any(parts):
        raise FieldError("missing full name")
    if any(len(p) > NAME_PART_MAX_LENGTH for p in parts):
        raise FieldError(f"name part longer than {NAME_PART_MAX_LENGTH} characters")
    if any(unicodedata.category(c).startswith("C") for p in parts for c in p):
        raise FieldError("control characters in the name")
    return parts


def parse_optional_text(value: str | None, what: str, max_length: int) -> str | None:
    text = clean(value)
    if not text:
        return None
    if len(text) > max_length:
        raise FieldError(f"{what} longer than {max_length} characters")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise FieldError(f"control characters in the {what}")
    return text


def parse_phone(value: str | None) -> str | None:
    phone = clean(value)
    if not phone:
        return None
    if len(phone) > PHONE_MAX_LENGTH or not _PHONE_RE.match(phone):
        raise FieldError(f"bad phone number {phone!r}")
    return phone


def parse_status(value: str | None) -> str:
    status = clean(value).lower() or USER_STATUSES[0]
    if status not in USER_STATUSES:
        raise FieldError(f"bad status {status!r} (expected {' or '.join(USER_STATUSES)})")
    return status


def parse_roles(value: str | None) -> list[str]:
    roles: list[str] = []
    for part in _LIST_SPLIT_RE.split(clean(value).lower()):
        if not part:
            continue
        if not _ROLE_RE.match(part):
            raise FieldError(f"bad role {part!r}")
        if part not in roles:
            roles.append(part)
    return roles


def parse_bool(value: str | None, what: str, default: bool = True) -> bool:
    text = clean(value).lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError(f"bad {what} value {text!r} (expected true or false)")


def parse_unit_code(value: str | None, what: str = "unit code") -> str:
    code = clean(value)
    if not code:
        raise FieldError(f"missing {what}")
    if len(code) > UNIT_CODE_MAX_LENGTH or not _UNIT_CODE_RE.match(code):
        raise FieldError(f"bad {what} {code!r}")
    return code


def parse_unit_name(value: str | None) -> str:
    name = " ".join(clean(value).split())
    if not name:
        raise FieldError("missing unit name")
    if len(name) > UNIT_NAME_MAX_LENGTH:
        raise FieldError(f"unit name longer than {UNIT_NAME_MAX_LENGTH} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise FieldError("control characters in the unit name")
    return name


def parse_unit_kind(value: str | None) -> str:
    kind = clean(value).lower() or "other"
    if kind not in UNIT_KINDS:
        raise FieldError(f"unknown unit kind {kind!r} (expected one of {', '.join(UNIT_KINDS)})")
    return kind
