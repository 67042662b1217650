"""TOTP (RFC 6238) with pyotp: codes of 6 digits every 30 seconds, one step of clock drift
tolerated each way, and the enrolment QR code drawn on the server as SVG (segno).

The secret is kept sealed (idp.sealing) under the key-encryption key, bound to the account.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno
from flask import current_app

from idp import sealing

STEP_SECONDS = 30
DIGITS = 6
# One step each way: a phone clock up to about 30 seconds off still works (RFC 6238 5.2).
DRIFT_STEPS = 1
SALT = b"idp-factors"
INFO = b"totp-secret-at-rest"


def new_secret() -> str:
    """160 random bits in base32 (RFC 4226 recommends 160)."""
    return pyotp.random_base32(32)


def _associated(user_id: int) -> bytes:
    return f"totp:{user_id}".encode()


def seal_secret(secret: str, user_id: int) -> str:
    kek = sealing.key_encryption_key(current_app.config)
    return sealing.seal(kek, secret.encode(), _associated(user_id), salt=SALT, info=INFO)


def open_secret(sealed: str, user_id: int) -> str:
    kek = sealing.key_encryption_key(current_app.config)
    return sealing.unseal(kek, sealed, _associated(user_id), salt=SALT, info=INFO).decode()


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def clean_code(code: str | None) -> str | None:
    """The code as typed, without spaces; None unless it is DIGITS digits."""
    text = "".join((code or "").split())
    return text if len(text) == DIGITS and text.isascii() and text.isdigit() else None


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, within the drift allowed; None if none."""
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared (constant work), the newest match wins.
        if hmac.compare_digest(code_at_step(secret, step), code):
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """An inline <svg> of the QR code, with a title for screen readers."""
    return segno.make(uri, error="m").svg_inline(
        scale=4, border=2, dark="#000", light="#fff", title="QR", omitsize=False
    )


def grouped(secret: str) -> str:
    """The secret for typing by hand, in groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
