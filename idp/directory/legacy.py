"""The password hashes mail systems already store, so people keep the password they use today.

The province's mail system (OpenLDAP, Zimbra, Dovecot, an Apache front-end) stores each
person's password as a salted SHA, a crypt(3) string, bcrypt or PBKDF2. An import brings
those hashes over as they are (`imported_hash`); the first sign-in checks the password
against one (`verify_legacy`) and replaces it at once with argon2id, in the same transaction
(idp.interaction.service.finish_sign_in), so a legacy hash lives only until its owner's first
sign-in.

The schemes are computed by libpass (the maintained fork of passlib, imported as `passlib`)
and bcrypt's own library: well-tested code, rather than our own parsing of six formats. Only
the handlers listed here are used: never passlib's plaintext handlers, which would take any
string as a "hash" and let a stored value be typed as the password.

Work factors are bounded at import (MAX_*): a hash with a huge cost would let whoever wrote
the file make every sign-in attempt at that address burn seconds of CPU.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError
from passlib import hash as passlib_hash
from passlib.exc import PasslibWarning

# The column's size (users.password_hash).
MAX_HASH_LENGTH = 512
# bcrypt ignores what follows the 72nd byte: such a password was never fully checked.
BCRYPT_MAX_PASSWORD_BYTES = 72
MAX_BCRYPT_COST = 14
MAX_CRYPT_ROUNDS = 1_000_000
MAX_PBKDF2_ROUNDS = 1_000_000
MAX_ARGON2_MEMORY_KIB = 262_144
MAX_ARGON2_TIME = 10
MIN_ARGON2_SALT_BYTES = 8
MIN_ARGON2_HASH_BYTES = 16
ARGON2_PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$")
PLAINTEXT_SCHEMES = ("CLEARTEXT", "PLAIN", "PLAINTEXT", "CLEAR", "TEXT")


@dataclass(frozen=True)
class Scheme:
    """One legacy form: its name (for messages and the audit log) and its passlib handler."""

    name: str
    handler: Any
    max_rounds: int | None = None


_SALTED_SHA = {
    "SSHA": Scheme("ssha", passlib_hash.ldap_salted_sha1),
    "SSHA256": Scheme("ssha256", passlib_hash.ldap_salted_sha256),
    "SSHA512": Scheme("ssha512", passlib_hash.ldap_salted_sha512),
}
# OpenLDAP's pw-pbkdf2 module ({PBKDF2} is its SHA-1 form): the same iterations, salt and
# key in the same adapted base64 as passlib's modular form, only the prefix differs; they are
# kept in the modular form.
_LDAP_PBKDF2 = {
    "PBKDF2": "$pbkdf2$",
    "PBKDF2-SHA1": "$pbkdf2$",
    "PBKDF2-SHA256": "$pbkdf2-sha256$",
    "PBKDF2-SHA512": "$pbkdf2-sha512$",
}
# Modular crypt forms, bare or after {CRYPT} (and Dovecot's {SHA512-CRYPT} ...).
_CRYPT = {
    "$6$": Scheme("sha512-crypt", passlib_hash.sha512_crypt, MAX_CRYPT_ROUNDS),
    "$5$": Scheme("sha256-crypt", passlib_hash.sha256_crypt, MAX_CRYPT_ROUNDS),
    "$2b$": Scheme("bcrypt", passlib_hash.bcrypt, MAX_BCRYPT_COST),
    "$2y$": Scheme("bcrypt", passlib_hash.bcrypt, MAX_BCRYPT_COST),
    "$2a$": Scheme("bcrypt", passlib_hash.bcrypt, MAX_BCRYPT_COST),
    "$pbkdf2-sha256$": Scheme("pbkdf2-sha256", passlib_hash.pbkdf2_sha256, MAX_PBKDF2_ROUNDS),
    "$pbkdf2-sha512$": Scheme("pbkdf2-sha512", passlib_hash.pbkdf2_sha512, MAX_PBKDF2_ROUNDS),
    "$pbkdf2$": Scheme("pbkdf2-sha1", passlib_hash.pbkdf2_sha1, MAX_PBKDF2_ROUNDS),
}
_CRYPT_TAGS = {"CRYPT": None, "SHA512-CRYPT": "$6$", "SHA256-CRYPT": "$5$", "BLF-CRYPT": "$2"}

SUPPORTED = (
    "{SSHA}, {SSHA256}, {SSHA512}, {CRYPT}$6$, {CRYPT}$5$, $6$, $5$, $2b$/$2y$ (bcrypt), "
    "{PBKDF2-SHA512}, {PBKDF2-SHA256}, {PBKDF2}, $pbkdf2-sha256$, $pbkdf2-sha512$, $argon2id$"
)


@contextmanager
def _quiet() -> Iterator[None]:
    """passlib warns about hashes it reads but would not write (bcrypt's padding bits): we
    only read them, once, before replacing them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PasslibWarning)
        yield


def is_argon2(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(ARGON2_PREFIXES)


def _tag(value: str) -> tuple[str, str]:
    """("SSHA", rest) for "{ssha}rest"; ("", value) when there is no {TAG}."""
    if not value.startswith("{"):
        return "", value
    end = value.find("}")
    if end < 0:
        raise ValueError("malformed hash: '{' without a closing '}'")
    return value[1:end].strip().upper(), value[end + 1 :]


def _crypt_scheme(body: str) -> Scheme | None:
    return next((s for prefix, s in _CRYPT.items() if body.startswith(prefix)), None)


def _resolve(value: str) -> tuple[Scheme | None, str]:
    """The scheme of a stored or imported hash and the form passlib reads; (None, value) for
    argon2; ValueError for a form we do not take."""
    tag, body = _tag(value)
    if tag in PLAINTEXT_SCHEMES:
        raise ValueError(f"{{{tag}}} is a password in clear, not a hash: refused")
    if tag in _SALTED_SHA:
        return _SALTED_SHA[tag], "{" + tag + "}" + body
    if tag in _LDAP_PBKDF2:
        tag, body = "", _LDAP_PBKDF2[tag] + body
    if tag == "ARGON2" or (not tag and body.startswith(ARGON2_PREFIXES)):
        return None, body
    if tag in _CRYPT_TAGS or not tag:
        scheme = _crypt_scheme(body)
        wanted = _CRYPT_TAGS.get(tag)
        if scheme is not None and (wanted is None or body.startswith(wanted)):
            return scheme, body
        if tag:
            raise ValueError(f"unknown crypt form in {{{tag}}} (supported: {SUPPORTED})")
        raise ValueError(f"not a password hash of a known scheme (supported: {SUPPORTED})")
    raise ValueError(f"unknown hash scheme {{{tag}}} (supported: {SUPPORTED})")


def _check_parsed(scheme: Scheme, body: str) -> None:
    try:
        with _quiet():
            parsed = scheme.handler.from_string(body)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed or truncated {scheme.name} hash ({exc})") from None
    if not getattr(parsed, "checksum", None):
        raise ValueError(f"truncated {scheme.name} hash: no checksum, only the salt")
    rounds = getattr(parsed, "rounds", None)
    if scheme.max_rounds is not None and rounds is not None and rounds > scheme.max_rounds:
        raise ValueError(
            f"{scheme.name} hash with a work factor of {rounds}, above the {scheme.max_rounds} "
            "accepted: every sign-in would take too long"
        )


def _check_argon2(body: str) -> None:
    """Read, never computed: an import of 9,800 argon2 hashes must not cost 9,800 hashings."""
    try:
        parameters = extract_parameters(body)
    except InvalidHashError:
        raise ValueError("malformed or truncated argon2 hash") from None
    if parameters.salt_len < MIN_ARGON2_SALT_BYTES or parameters.hash_len < MIN_ARGON2_HASH_BYTES:
        raise ValueError("truncated argon2 hash: its salt or its hash is too short")
    if parameters.memory_cost > MAX_ARGON2_MEMORY_KIB or parameters.time_cost > MAX_ARGON2_TIME:
        raise ValueError(
            f"argon2 hash with m={parameters.memory_cost}, t={parameters.time_cost}, above the "
            f"m={MAX_ARGON2_MEMORY_KIB}, t={MAX_ARGON2_TIME} accepted: every sign-in would take "
            "too much memory or time"
        )


def imported_hash(value: str) -> str:
    """The hash to keep in users.password_hash for a hash as a mail system stores it
    (`{SSHA}...`, `{CRYPT}$6$...`, `$2y$...`, `{PBKDF2-SHA512}...`, `$argon2id$...`).

    ValueError, with the reason, for an empty, malformed, truncated or clear-text value, an
    unknown scheme, or a work factor too high to verify at sign-in.
    """
    text = (value or "").strip()
    if not text:
        raise ValueError("empty password hash")
    if len(text) > MAX_HASH_LENGTH:
        raise ValueError(f"password hash longer than {MAX_HASH_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("malformed hash: it contains spaces or control characters")
    scheme, body = _resolve(text)
    if scheme is None:
        _check_argon2(body)
    else:
        _check_parsed(scheme, body)
    return body


def legacy_scheme(stored: str | None) -> str | None:
    """The legacy scheme's name of a stored hash ("ssha", "bcrypt", ...); None for argon2,
    a missing hash, or anything unreadable."""
    if not stored or is_argon2(stored):
        return None
    try:
        scheme, _body = _resolve(stored)
    except ValueError:
        return None
    return scheme.name if scheme else None


def _candidates(password: str) -> list[str]:
    """The password as typed and in NFC: the mail client may have hashed either spelling of
    a Vietnamese letter (ệ, or e and two combining marks)."""
    composed = unicodedata.normalize("NFC", password)
    return [password] if composed == password else [composed, password]


def verify_legacy(stored: str, password: str) -> bool:
    """True when the password matches a legacy hash; never for a value we would not import."""
    try:
        scheme, body = _resolve(stored)
    except ValueError:
        return False
    if scheme is None:
        return False
    for candidate in _candidates(password):
        if scheme.name == "bcrypt" and len(candidate.encode()) > BCRYPT_MAX_PASSWORD_BYTES:
            continue
        try:
            with _quiet():
                matched = scheme.handler.verify(candidate, body)
            if matched:
                return True
        except (ValueError, TypeError):
            return False
    return False
