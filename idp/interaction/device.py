"""The device cookie: this browser has signed in to these accounts before.

OWASP, "Slow Down Online Guessing Attacks with Device Cookies": after a successful sign-in
the browser gets a signed cookie listing the accounts that signed in with it (the last
MAX_ACCOUNTS), each with its own random entry id. When the browser signs in again to one of
them, failures count against that entry alone (`dev:<sub>:<entry id>` in
idp.interaction.throttle), so an attacker guessing elsewhere does not hold the person back,
while browsers never seen before share the account's counter.

Trust is per (browser, account): a success replaces the entry of the account that signed
in with a fresh id (rotation) and carries every other entry over unchanged, id and counter.
Someone who shares the browser and signs in to their own account therefore never resets the
counter of another account's entry; only that account's own successful sign-in does.

The cookie never signs anyone in: the password is checked as always. It is signed with
SECRET_KEY (a forged or altered one is no device cookie), set and read through
idp.security like every cookie of ours, and lasts LOGIN_DEVICE_COOKIE_SECONDS.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Response, current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from idp.security import read_cookie, set_cookie

# The cookie's base name; idp.security names it on the wire (__Host- on an https issuer).
DEVICE_COOKIE = "idp_device"
# Shared computers: the accounts that signed in last on this browser, most recent first.
MAX_ACCOUNTS = 5
COOKIE_MAX_LENGTH = 1024
SALT = "idp.interaction.device"


@dataclass(frozen=True)
class Device:
    # (sub, entry id) of the accounts that signed in on this browser, most recent first.
    entries: tuple[tuple[str, str], ...]

    def entry_for(self, sub: str) -> str | None:
        """The id of this account's entry, which names its throttle counter."""
        return next((entry for account, entry in self.entries if account == sub), None)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _is_entry(item: object) -> bool:
    return isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)


def read_device(value: str | None) -> Device | None:
    """The device a cookie value stands for; None when absent, altered or expired."""
    if not value or len(value) > COOKIE_MAX_LENGTH:
        return None
    try:
        data = _serializer().loads(value, max_age=current_app.config["LOGIN_DEVICE_COOKIE_SECONDS"])
    except BadData:
        return None
    # Cookies of the earlier form ({"d": id, "a": [sub, ...]}, one id for all accounts) hold
    # no entries: such a browser is trusted again after its next sign-in.
    entries = data.get("e") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    return Device(tuple((sub, entry) for sub, entry in filter(_is_entry, entries)))


def issue_device(previous: Device | None, sub: str) -> str:
    """The cookie value after `sub` signed in: a fresh entry for it, first; the others as
    they were (their ids, so their counters, untouched)."""
    others = [[a, e] for a, e in (previous.entries if previous else ()) if a != sub]
    entries = [[sub, secrets.token_urlsafe(16)], *others][:MAX_ACCOUNTS]
    return _serializer().dumps({"e": entries})


def set_device_cookie(response: Response, value: str) -> None:
    set_cookie(
        response, DEVICE_COOKIE, value, max_age=current_app.config["LOGIN_DEVICE_COOKIE_SECONDS"]
    )


def read_device_cookie() -> str | None:
    return read_cookie(DEVICE_COOKIE)
