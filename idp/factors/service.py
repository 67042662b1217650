"""Second factors of a person: enrolment, checking a code, removal, recovery codes.

Services add to the caller's transaction and never commit (the pages do). Every change is
an audit event; no code or secret is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, session

from idp import audit, sealing
from idp.assurance import SECOND_FACTORS, method_time
from idp.directory.models import User
from idp.extensions import db
from idp.factors import recovery, totp
from idp.factors.models import TotpFactor

log = logging.getLogger("idp.factors")


class FactorError(Exception):
    """A second-factor operation that cannot be done (the page says why)."""


class InvalidCode(FactorError):
    """The code is wrong, already used, or too old."""


class AlreadyEnrolled(FactorError):
    """The person already has a TOTP authenticator (remove it first)."""


class NotEnrolled(FactorError):
    """There is no authenticator (or no enrolment under way) to act on."""


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code and the secret for typing by hand."""

    secret: str
    uri: str
    svg: str

    @property
    def grouped(self) -> str:
        return totp.grouped(self.secret)

    @property
    def mark(self) -> str:
        """Names this secret without telling it: the page session of the browser that was
        shown it keeps the mark, and only that browser may confirm it."""
        return enrolment_mark(self.secret)


def enrolment_mark(secret: str) -> str:
    return hashlib.sha256(b"totp-enrolment:" + secret.encode()).hexdigest()[:32]


# The page session's key for the mark of the secret this browser was shown.
SHOWN_KEY = "totp_enrolment"


def show_enrolment(user: User, now: datetime) -> Enrolment:
    """The enrolment page's secret: the one this browser was shown before (after a wrong
    code), else a new one, remembered in this browser's page session."""
    enrolment = current_enrolment(user, session.get(SHOWN_KEY))
    if enrolment is None:
        enrolment = begin_totp_enrolment(user, now)
        session[SHOWN_KEY] = enrolment.mark
    return enrolment


def shown_mark() -> str | None:
    return session.get(SHOWN_KEY)


def _secret(factor: TotpFactor) -> str | None:
    """The factor's secret, or None when it cannot be decrypted (KEY_ENCRYPTION_KEY changed
    without the secrets being moved): codes then fail, recovery codes still work."""
    try:
        return totp.open_secret(factor.secret_encrypted, factor.user_id)
    except sealing.UnsealError:
        log.warning("cannot decrypt the TOTP secret of user %s", factor.user_id)
        return None


def totp_of(user_id: int) -> TotpFactor | None:
    return db.session.execute(
        sa.select(TotpFactor).where(TotpFactor.user_id == user_id)
    ).scalar_one_or_none()


def has_totp(user: User) -> bool:
    """A confirmed authenticator app (whether the person has any second factor, a passkey
    included, is idp.factors.methods.has_second_factor)."""
    factor = totp_of(user.id)
    return factor is not None and factor.confirmed_at is not None


@dataclass(frozen=True)
class FactorSummary:
    """What the account page shows of a person's second factors."""

    totp_since: datetime | None
    recovery_codes_left: int


def summary(user: User) -> FactorSummary:
    factor = totp_of(user.id)
    since = factor.confirmed_at if factor is not None else None
    return FactorSummary(since, recovery.remaining(user.id) if since else 0)


def is_fresh(auth_times: dict[str, int] | None, now: datetime, seconds: int) -> bool:
    """Whether a second factor was given in the session (its per-method times) within
    `seconds`: what removing a factor or issuing new recovery codes asks for."""
    if not auth_times:
        return False
    given = method_time(auth_times, SECOND_FACTORS, now)
    return (now - given).total_seconds() <= seconds


def _enrolment(user: User, secret: str) -> Enrolment:
    uri = totp.provisioning_uri(secret, user.email, current_app.config["TOTP_ISSUER"])
    return Enrolment(secret, uri, totp.qr_svg(uri))


def begin_totp_enrolment(user: User, now: datetime) -> Enrolment:
    """A new secret for the person to add to their app; replaces an unconfirmed one."""
    factor = totp_of(user.id)
    if factor is not None and factor.confirmed_at is not None:
        raise AlreadyEnrolled()
    secret = totp.new_secret()
    if factor is None:
        factor = TotpFactor(user_id=user.id, created_at=now, last_used_step=0)
        db.session.add(factor)
    factor.secret_encrypted = totp.seal_secret(secret, user.id)
    factor.created_at = now
    db.session.flush()
    return _enrolment(user, secret)


def current_enrolment(user: User, mark: str | None) -> Enrolment | None:
    """The enrolment under way, shown again after a wrong code, if it is the one this
    browser was shown (`mark`, kept in its page session): a secret someone else started for
    the person (with the password, before them) is never shown to them, nor confirmed."""
    factor = totp_of(user.id)
    if factor is None or factor.confirmed_at is not None or not mark:
        return None
    secret = _secret(factor)
    if not secret or not hmac.compare_digest(enrolment_mark(secret), mark):
        return None
    return _enrolment(user, secret)


def confirm_totp_enrolment(
    user: User, code: str, now: datetime, origin: dict[str, Any], mark: str | None
) -> list[str]:
    """A first code confirms the authenticator this browser was shown (`mark`); returns
    the ten recovery codes issued with it, to be shown once."""
    factor = totp_of(user.id)
    if factor is None or factor.confirmed_at is not None:
        raise NotEnrolled()
    cleaned = totp.clean_code(code)
    secret = _secret(factor)
    if not secret or not mark or not hmac.compare_digest(enrolment_mark(secret), mark):
        raise NotEnrolled()
    step = totp.matching_step(secret, cleaned, now) if cleaned and secret else None
    if step is None or not _spend_step(factor, step, now):
        raise InvalidCode()
    factor.confirmed_at = now
    codes = recovery.issue(user.id, now)
    audit.record(
        "factor_enrolled", actor=user.sub, subject=user.sub, detail={"method": "totp"}, **origin
    )
    return codes


def _spend_step(factor: TotpFactor, step: int, now: datetime) -> bool:
    """Record `step` as used: True for the one request that does, only for a step newer than
    the last one used (no code twice, no older code after a newer one)."""
    result = db.session.execute(
        sa.update(TotpFactor)
        .where(TotpFactor.id == factor.id, TotpFactor.last_used_step < step)
        .values(last_used_step=step, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(factor, ["last_used_step", "last_used_at"])
    return result.rowcount == 1


def check_totp(user: User, code: str, now: datetime) -> bool:
    """A code of the person's confirmed authenticator, never accepted twice."""
    cleaned = totp.clean_code(code)
    factor = totp_of(user.id)
    if cleaned is None or factor is None or factor.confirmed_at is None:
        return False
    secret = _secret(factor)
    step = totp.matching_step(secret, cleaned, now) if secret else None
    return step is not None and _spend_step(factor, step, now)


def check_recovery_code(user: User, code: str, now: datetime) -> bool:
    return has_totp(user) and recovery.redeem(user.id, code, now)


def recovery_codes_left(user: User) -> int:
    return recovery.remaining(user.id)


def remove_totp(
    user: User, now: datetime, origin: dict[str, Any], *, actor: str | None = None
) -> None:
    """Remove the authenticator and, with the last factor gone, the recovery codes.
    `actor`: an administrator resetting the person's factors (else the person)."""
    factor = totp_of(user.id)
    if factor is None or factor.confirmed_at is None:
        raise NotEnrolled()
    db.session.delete(factor)
    recovery.remove_all(user.id)
    audit.record(
        "factor_removed",
        actor=actor or user.sub,
        subject=user.sub,
        detail={"method": "totp"},
        **origin,
    )


def regenerate_recovery_codes(user: User, now: datetime, origin: dict[str, Any]) -> list[str]:
    if not has_totp(user):
        raise NotEnrolled()
    codes = recovery.issue(user.id, now)
    audit.record("recovery_codes_issued", actor=user.sub, subject=user.sub, **origin)
    return codes
