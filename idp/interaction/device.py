"""The device cookie: this browser has signed in to these accounts before.

OWASP, "Slow Down Online Guessing Attacks with Device Cookies": after a successful sign-in
the browser gets a signed cookie holding a random device id and the `sub` of the accounts
that signed in with it (the last MAX_ACCOUNTS). When the browser signs in again to one of
them, failures count against that device alone (idp.interaction.throttle), so an attacker
guessing elsewhere does not hold the person back, while browsers never seen before share
the account's counter. Every success issues a fresh cookie with a new id (rotation).

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
    id: str
    accounts: tuple[str, ...]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def read_device(value: str | None) -> Device | None:
    """The device a cookie value stands for; None when absent, altered or expired."""
    if not value or len(value) > COOKIE_MAX_LENGTH:
        return None
    try:
        data = _serializer().loads(value, max_age=current_app.config["LOGIN_DEVICE_COOKIE_SECONDS"])
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    device_id, accounts = data.get("d"), data.get("a")
    if not isinstance(device_id, str) or not isinstance(accounts, list):
        return None
    return Device(device_id, tuple(a for a in accounts if isinstance(a, str)))


def issue_device(previous: Device | None, sub: str) -> str:
    """The cookie value after `sub` signed in: a new id, this account first."""
    others = [a for a in (previous.accounts if previous else ()) if a != sub]
    accounts = [sub, *others][:MAX_ACCOUNTS]
    return _serializer().dumps({"d": secrets.token_urlsafe(16), "a": accounts})


def set_device_cookie(response: Response, value: str) -> None:
    set_cookie(
        response, DEVICE_COOKIE, value, max_age=current_app.config["LOGIN_DEVICE_COOKIE_SECONDS"]
    )


def read_device_cookie() -> str | None:
    return read_cookie(DEVICE_COOKIE)
