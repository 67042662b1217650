"""The second-factor methods the factor page offers, as a small registry.

Each method says whether a person has it, and checks what they typed. TOTP and recovery
codes are here; another method (a passkey, idp.passkeys) is one more `register()` call in
its package's init_app, with its own form on the factor page (`form`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from idp.assurance import AMR_OTP
from idp.directory.models import User
from idp.factors import recovery, service, totp


@dataclass(frozen=True)
class FactorMethod:
    # Name in audit events and on the page.
    name: str
    # The RFC 8176 value the session records when it succeeds.
    amr: str
    # Which form of the factor page asks for it ("code": a typed code).
    form: str
    has: Callable[[User], bool]
    # Whether a typed value has this method's shape (a 6-digit code, a recovery code).
    accepts: Callable[[str], bool]
    verify: Callable[[User, str, datetime], bool]


TOTP = FactorMethod(
    name="totp",
    amr=AMR_OTP,
    form="code",
    has=service.has_second_factor,
    accepts=lambda value: totp.clean_code(value) is not None,
    verify=service.check_totp,
)
# A recovery code is a one-time password kept on paper: RFC 8176 has no value of its own
# for it, and `otp` says what it is; the audit event names it.
RECOVERY_CODE = FactorMethod(
    name="recovery_code",
    amr=AMR_OTP,
    form="code",
    has=service.has_second_factor,
    accepts=lambda value: recovery.clean(value) is not None,
    verify=service.check_recovery_code,
)

METHODS: list[FactorMethod] = [TOTP, RECOVERY_CODE]


def register(method: FactorMethod) -> None:
    if all(m.name != method.name for m in METHODS):
        METHODS.append(method)


def available(user: User) -> list[FactorMethod]:
    return [m for m in METHODS if m.has(user)]


def check_code(user: User, value: str, now: datetime) -> FactorMethod | None:
    """The method a typed code succeeded with, or None (wrong, reused, or no such method)."""
    for method in available(user):
        if method.form == "code" and method.accepts(value):
            return method if method.verify(user, value, now) else None
    return None
