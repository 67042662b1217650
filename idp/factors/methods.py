"""The second-factor methods the factor page offers, as a small registry.

Each method says whether a person has it, the level it reaches after a password, and (for a
typed code) checks what they typed. TOTP and recovery codes are here; a passkey is
registered by idp.passkeys' init_app, with its own form on the factor page (`form`
"passkey": a WebAuthn ceremony, run by the page, not a typed value).

Whether a person has a second factor at all, and the highest level they can reach, are
asked of this registry (`has_second_factor`, `reachable_rank`), so a person with passkeys
and no authenticator app has a second factor too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from idp.assurance import ACR_MFA, ACR_PASSWORD, AMR_OTP, rank
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
    accepts: Callable[[str], bool] = lambda _value: False
    verify: Callable[[User, str, datetime], bool] = lambda _user, _value, _now: False
    # The level (idp.assurance.ACR_RANK) it reaches after a password.
    rank: int = rank(ACR_MFA)


TOTP = FactorMethod(
    name="totp",
    amr=AMR_OTP,
    form="code",
    has=service.has_totp,
    accepts=lambda value: totp.clean_code(value) is not None,
    verify=service.check_totp,
)
# A recovery code is a one-time password kept on paper: RFC 8176 has no value of its own
# for it, and `otp` says what it is; the audit event names it.
RECOVERY_CODE = FactorMethod(
    name="recovery_code",
    amr=AMR_OTP,
    form="code",
    has=service.has_totp,
    accepts=lambda value: recovery.clean(value) is not None,
    verify=service.check_recovery_code,
)

METHODS: list[FactorMethod] = [TOTP, RECOVERY_CODE]


def register(method: FactorMethod) -> None:
    if all(m.name != method.name for m in METHODS):
        METHODS.append(method)


def available(user: User) -> list[FactorMethod]:
    return [m for m in METHODS if m.has(user)]


def has_second_factor(user: User) -> bool:
    """Any second factor: an authenticator app (with its recovery codes) or a passkey."""
    return any(m.has(user) for m in METHODS)


def reachable_rank(user: User) -> int:
    """The highest level of assurance the person can perform now (idp.assurance)."""
    return max((m.rank for m in available(user)), default=rank(ACR_PASSWORD))


def offered(user: User, goal_rank: int) -> list[FactorMethod]:
    """The methods the factor page offers for a level: those reaching it when the person
    has any (a step-up to the phishing-resistant level asks for a passkey only), else all
    of theirs."""
    mine = available(user)
    enough = [m for m in mine if m.rank >= goal_rank]
    return enough or mine


def check_code(user: User, value: str, now: datetime) -> FactorMethod | None:
    """The method a typed code succeeded with, or None (wrong, reused, or no such method)."""
    for method in available(user):
        if method.form == "code" and method.accepts(value):
            return method if method.verify(user, value, now) else None
    return None
