"""Settings: defaults from idp/defaults.toml (package data), overridden by IDP_* environment
variables.

`load_settings()` returns a plain dict of upper-case keys; `check_settings()` fails fast
with a one-line reason when a production deployment is misconfigured.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from idp.limits import check_limits

DEFAULTS_FILE = "defaults.toml"
DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"
ENV_PREFIX = "IDP_"
# Settings that were renamed: the old name is still read when the new one is not given.
# Settings of unreleased work that are gone, with what replaced them.
RETIRED = {
    "ACR_PHISHING_RESISTANT": "the level is urn:hg:loa:3, computed from the methods "
    "performed (idp.assurance, docs/factors.md)",
    "PASSKEY_REMOVE_MAX_AGE_SECONDS": "removing a passkey needs a second factor within "
    "IDP_FACTOR_FRESH_SECONDS (docs/passkeys.md)",
}
RENAMED = {"LOGOUT_ALLOW_PRIVATE_TARGETS": "OUTBOUND_ALLOW_PRIVATE_TARGETS"}


POSITIVE_INTEGERS = (
    "ARGON2_MEMORY_KIB",
    "ARGON2_TIME_COST",
    "ARGON2_PARALLELISM",
    "LOGIN_THROTTLE_WINDOW_SECONDS",
    "LOGIN_THROTTLE_FREE_ATTEMPTS",
    "LOGIN_THROTTLE_MAX_DELAY_SECONDS",
    "LOGIN_DEVICE_COOKIE_SECONDS",
    "CSRF_TIME_LIMIT_SECONDS",
    "AUDIT_RETENTION_DAYS",
    "SESSION_RETENTION_DAYS",
    "PASSKEY_CEREMONY_SECONDS",
    "PASSKEY_MAX_PER_USER",
    "ACTIVATION_LINK_SECONDS",
    "PASSWORD_RESET_LINK_SECONDS",
    "PASSWORD_RESET_PER_ADDRESS",
    "PASSWORD_RESET_PER_CLIENT",
    "PASSWORD_RESET_WINDOW_SECONDS",
    "INVITE_BATCH_SIZE",
    "INVITE_BATCH_INTERVAL_SECONDS",
    "PASSWORD_CHANGE_TICKET_SECONDS",
    "LDAP_PAGE_SIZE",
    "LDAP_SYNC_LOCK_STALE_SECONDS",
)
POSITIVE_SECONDS = (
    "CLIENT_JWKS_FETCH_SECONDS",
    "CLIENT_JWKS_REFRESH_SECONDS",
    "CLIENT_JWKS_MAX_AGE_SECONDS",
    "CLIENT_JWKS_RETRY_SECONDS",
    "LDAP_TIMEOUT_SECONDS",
)


# The longest sign-in delay a setting may ask for: beyond it, guessing protection becomes a
# lock-out an attacker can impose on a named person.
LOGIN_THROTTLE_MAX_DELAY_LIMIT_SECONDS = 3600


class SettingsError(Exception):
    """A setting has a value the provider cannot run with."""


def package_path(*parts: str) -> Path:
    """A file or folder shipped inside the `idp` package, as a path on disk.

    Alembic and Flask-Babel read folders by path; the package is installed as files (from
    a wheel, or editable from a checkout), never imported from a zip archive."""
    return Path(str(files("idp").joinpath(*parts)))


def _parse_env_value(raw: str, default: Any) -> Any:
    if isinstance(default, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    with files("idp").joinpath(DEFAULTS_FILE).open("rb") as fh:
        settings: dict[str, Any] = tomllib.load(fh)
    given: set[str] = set()
    for name, raw in os.environ.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :]
            settings[key] = _parse_env_value(raw, settings.get(key))
            given.add(key)
    if overrides:
        settings.update(overrides)
        given.update(overrides)
    for old, new in RENAMED.items():
        if old in settings:
            value = settings.pop(old)
            if new not in given:
                settings[new] = value
    settings["ISSUER"] = str(settings["ISSUER"]).rstrip("/")
    # Relative to the directory the provider is started from, as any path an operator gives.
    instance = Path(os.path.abspath(settings["INSTANCE_PATH"]))
    settings["INSTANCE_PATH"] = str(instance)
    if not settings.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'idp.sqlite3'}"
    return settings


def check_settings(settings: dict[str, Any]) -> None:
    """Raise SettingsError with a one-line reason when the settings cannot be used."""
    _check_issuer(settings)
    _check_choices(settings)
    _check_durations(settings)
    _check_support(settings)
    problem = check_limits(settings)
    if problem:
        raise SettingsError(problem)
    _check_passkeys(settings)
    _check_ldap(settings)
    if settings["ENV"] == "production":
        _check_production(settings)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _check_issuer(settings: dict[str, Any]) -> None:
    issuer = urlsplit(settings["ISSUER"])
    if issuer.scheme not in ("http", "https") or not issuer.netloc:
        raise SettingsError(
            f"IDP_ISSUER must be an absolute http(s) URL, got {settings['ISSUER']!r}"
        )
    if issuer.query or issuer.fragment:
        raise SettingsError("IDP_ISSUER must not contain a query or fragment")


def _check_choices(settings: dict[str, Any]) -> None:
    if settings["ENV"] not in ("development", "production"):
        raise SettingsError("IDP_ENV must be 'development' or 'production'")
    if str(settings.get("SQLITE_SYNCHRONOUS", "NORMAL")).upper() not in ("NORMAL", "FULL"):
        raise SettingsError("IDP_SQLITE_SYNCHRONOUS must be NORMAL or FULL")
    cache = settings.get("CLIENT_CACHE_SECONDS", 0)
    if not _is_number(cache) or cache < 0:
        raise SettingsError("IDP_CLIENT_CACHE_SECONDS must be a number of seconds, 0 or more")
    allow = settings.get("OUTBOUND_ALLOW_PRIVATE_TARGETS", "auto")
    words = ("auto", "true", "false", "1", "0", "yes", "no", "on", "off")
    if not isinstance(allow, bool) and str(allow).strip().lower() not in words:
        raise SettingsError("IDP_OUTBOUND_ALLOW_PRIVATE_TARGETS must be true, false or auto")


# The help desk's contact (SUPPORT_*): shown on pages as mailto:, tel: and https links.
SUPPORT_EMAIL_PATTERN = re.compile(r"[^@\s<>\"'()]+@[^@\s<>\"'()]+\.[^@\s<>\"'()]+")
SUPPORT_PHONE_PATTERN = re.compile(r"\+?[0-9][0-9 .()-]{2,30}")


def _check_support(settings: dict[str, Any]) -> None:
    email = settings.get("SUPPORT_EMAIL", "")
    phone = settings.get("SUPPORT_PHONE", "")
    url = settings.get("SUPPORT_URL", "")
    for key, value in (("SUPPORT_EMAIL", email), ("SUPPORT_PHONE", phone), ("SUPPORT_URL", url)):
        if not isinstance(value, str):
            raise SettingsError(f"IDP_{key} must be text")
    if email and (len(email) > 254 or not SUPPORT_EMAIL_PATTERN.fullmatch(email)):
        raise SettingsError(f"IDP_SUPPORT_EMAIL must be an e-mail address, got {email!r}")
    if phone and not SUPPORT_PHONE_PATTERN.fullmatch(phone):
        raise SettingsError(
            "IDP_SUPPORT_PHONE must be a telephone number (digits, spaces, . - ( ), a leading +)"
            f", got {phone!r}"
        )
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or not url.isprintable()):
        raise SettingsError(f"IDP_SUPPORT_URL must be an absolute http(s) URL, got {url!r}")


def _check_passkeys(settings: dict[str, Any]) -> None:
    if settings.get("PASSKEY_USER_VERIFICATION") not in ("preferred", "required"):
        raise SettingsError("IDP_PASSKEY_USER_VERIFICATION must be 'preferred' or 'required'")
    if not isinstance(settings.get("PASSKEY_SIGN_IN"), bool):
        raise SettingsError("IDP_PASSKEY_SIGN_IN must be true or false")
    for key, instead in RETIRED.items():
        if key in settings:
            raise SettingsError(f"IDP_{key} is no longer a setting: {instead}")


# The LDAP source (idp.directory.ldap): the choices are checked here, the rest when a sync
# or a sign-in first needs the connection (a missing password file is its error, not a
# reason for the web pages not to start).
LDAP_PRESETS = ("openldap", "zimbra", "active-directory")
LDAP_PASSWORD_CHECKS = ("off", "migrate", "always")


def _check_ldap(settings: dict[str, Any]) -> None:
    url = str(settings.get("LDAP_URL", ""))
    if url and urlsplit(url).scheme not in ("ldap", "ldaps"):
        raise SettingsError(f"IDP_LDAP_URL must be an ldap:// or ldaps:// URL, got {url!r}")
    if settings.get("LDAP_PRESET") not in LDAP_PRESETS:
        raise SettingsError("IDP_LDAP_PRESET must be one of " + ", ".join(LDAP_PRESETS))
    if settings.get("LDAP_PASSWORD_CHECK") not in LDAP_PASSWORD_CHECKS:
        raise SettingsError(
            "IDP_LDAP_PASSWORD_CHECK must be one of " + ", ".join(LDAP_PASSWORD_CHECKS)
        )
    for key in ("LDAP_ATTRIBUTES", "LDAP_UNIT_MAP"):
        value = settings.get(key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise SettingsError(f"IDP_{key} must be a JSON object of strings")
    unit_from = str(settings.get("LDAP_UNIT_FROM", ""))
    if unit_from not in ("ou", "none") and not (
        unit_from.startswith("attribute:") and unit_from[len("attribute:") :].strip()
    ):
        raise SettingsError("IDP_LDAP_UNIT_FROM must be ou, none or attribute:NAME")
    share = settings.get("LDAP_SYNC_MAX_DISABLE_PERCENT")
    if not _is_number(share) or not 0 <= share <= 100:
        raise SettingsError("IDP_LDAP_SYNC_MAX_DISABLE_PERCENT must be a number from 0 to 100")
    for key in ("LDAP_START_TLS", "LDAP_SYNC_PASSWORD_HASHES"):
        if not isinstance(settings.get(key), bool):
            raise SettingsError(f"IDP_{key} must be true or false")


def _check_durations(settings: dict[str, Any]) -> None:
    for key in POSITIVE_SECONDS:
        value = settings.get(key)
        if not _is_number(value) or value <= 0:
            raise SettingsError(f"IDP_{key} must be a positive number of seconds")
    for key in POSITIVE_INTEGERS:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"IDP_{key} must be a positive integer")
    if settings["LOGIN_THROTTLE_MAX_DELAY_SECONDS"] > LOGIN_THROTTLE_MAX_DELAY_LIMIT_SECONDS:
        # A longer delay is a lock-out anyone can impose on a named person.
        raise SettingsError(
            "IDP_LOGIN_THROTTLE_MAX_DELAY_SECONDS must be at most "
            f"{LOGIN_THROTTLE_MAX_DELAY_LIMIT_SECONDS} (an hour): no one is locked out for long"
        )
    if settings["LOGIN_THROTTLE_WINDOW_SECONDS"] <= settings["LOGIN_THROTTLE_MAX_DELAY_SECONDS"]:
        # Otherwise an attacker who waits out the longest delay finds the count reset.
        raise SettingsError(
            "IDP_LOGIN_THROTTLE_WINDOW_SECONDS must be longer than "
            "IDP_LOGIN_THROTTLE_MAX_DELAY_SECONDS"
        )
    if settings["PASSWORD_RESET_WINDOW_SECONDS"] > settings["LOGIN_THROTTLE_WINDOW_SECONDS"]:
        # `idp cleanup` forgets the counters after the sign-in throttle's window.
        raise SettingsError(
            "IDP_PASSWORD_RESET_WINDOW_SECONDS must not be longer than "
            "IDP_LOGIN_THROTTLE_WINDOW_SECONDS"
        )


def _check_production(settings: dict[str, Any]) -> None:
    if settings["SECRET_KEY"] == DEFAULT_SECRET_KEY or len(str(settings["SECRET_KEY"])) < 32:
        raise SettingsError(
            "refusing to start in production: "
            "IDP_SECRET_KEY is the default or shorter than 32 characters"
        )
    if urlsplit(settings["ISSUER"]).scheme != "https":
        raise SettingsError("refusing to start in production: IDP_ISSUER must be an https URL")
    # The key that encrypts private signing keys at rest is its own secret: a leaked or
    # rotated IDP_SECRET_KEY (cookies, CSRF) must neither open nor lose the signing keys.
    kek = str(settings.get("KEY_ENCRYPTION_KEY") or "")
    if len(kek) < 32 or kek == str(settings["SECRET_KEY"]):
        raise SettingsError(
            "refusing to start in production: IDP_KEY_ENCRYPTION_KEY must be set, "
            "32 or more characters, and differ from IDP_SECRET_KEY "
            "(keys stored under another key: `idp keys reencrypt`)"
        )
