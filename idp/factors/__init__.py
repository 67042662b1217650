"""Second factors: TOTP authenticators, recovery codes, and the pending sign-in between a
password and its second factor (docs/factors.md).

models: the tables; totp: codes (RFC 6238) and the enrolment QR code; recovery: single-use
recovery codes; pending: the short-lived sign-in waiting for its factor; methods: the
registry of second-factor methods the sign-in page offers; service: enrolment, checking a
code, removal; policy: who must always sign in with a second factor.

Imports the core and idp.directory only; the pages are interaction's (sign-in) and
account's (enrolment, removal).
"""

from __future__ import annotations

from flask import Flask

from idp.settings import SettingsError

FACTOR_SETTINGS = ("FACTOR_PENDING_SECONDS", "FACTOR_MAX_ATTEMPTS", "FACTOR_FRESH_SECONDS")


def check_factor_settings(config: dict) -> None:
    for key in FACTOR_SETTINGS:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"IDP_{key} must be a positive integer")
    for key in ("MFA_REQUIRED_ROLES", "MFA_REQUIRED_UNITS", "MFA_REQUIRED_CLIENTS"):
        value = config.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"IDP_{key} must be a list of strings")


def init_app(app: Flask) -> None:
    check_factor_settings(app.config)
