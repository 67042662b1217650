"""The second step of signing in: a code from the person's second factor, after the
password (or, stepping up, after the SSO session's password), before any session exists.

The pages (idp.interaction.views) commit; this module only adds to the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from idp import audit
from idp.assurance import AMR_PASSWORD
from idp.directory.models import User
from idp.extensions import db
from idp.factors import methods, pending, policy, service
from idp.factors.models import PendingSignIn
from idp.interaction import throttle


class PendingGone(Exception):
    """The pending sign-in was finished or locked by another request meanwhile."""


@dataclass
class CodeOutcome:
    # The method the code succeeded with, or None.
    method: methods.FactorMethod | None = None
    # Seconds to wait (the account's second-factor throttle), else 0.
    retry_after: int = 0
    # The pending sign-in took its last wrong code: the password must be typed again.
    locked: bool = False


def factor_needed(user: User, enrol_asked: bool) -> tuple[bool, bool]:
    """(ask for a second factor, enrol one first): asked of everyone who has one; who has
    none enrols when the relying party or their role requires the level."""
    if service.has_second_factor(user):
        return True, False
    must = enrol_asked or policy.required_acr_for_user(user, current_app.config) is not None
    return must, must


def begin(
    user: User,
    *,
    now: datetime,
    enrol: bool,
    next_url: str,
    remember: bool = False,
    sid: str | None = None,
    password_at: datetime | None = None,
    origin: dict[str, Any],
) -> str:
    """A pending sign-in for the factor page; returns the browser's handle."""
    done = {AMR_PASSWORD: int(password_at.timestamp())} if password_at else {}
    return pending.create(
        user,
        methods=done,
        now=now,
        remember=remember,
        next_url=next_url,
        enrol=enrol,
        sid=sid,
        ip=origin.get("ip"),
        user_agent=origin.get("user_agent"),
    )


def user_of(waiting: PendingSignIn) -> User | None:
    user = db.session.get(User, waiting.user_id)
    return user if user is not None and user.is_active else None


def reserve(user: User, now: datetime) -> tuple[int, list[str]]:
    """Count a code attempt against the account before it is checked (the caller commits
    at once, so that parallel guesses see it); (seconds to wait, keys)."""
    keys = [throttle.second_factor_key(user.sub)]
    wait, _counted = throttle.reserve(keys, now)
    if wait:
        throttle.refuse(keys, now)
    return wait, keys


def check_code(
    waiting: PendingSignIn,
    user: User,
    code: str,
    keys: list[str],
    now: datetime,
    origin: dict[str, Any],
) -> CodeOutcome:
    """Check a code reserved by `reserve`: on success the pending sign-in is finished (once);
    on failure it counts one more wrong code."""
    method = methods.check_code(user, code, now)
    if method is not None and pending.finish(waiting, now):
        throttle.give_back(keys, now)
        audit.record(
            "login_factor",
            actor=user.sub,
            subject=user.sub,
            detail={"method": method.name},
            **origin,
        )
        return CodeOutcome(method=method)
    failures = pending.count_failure(waiting)
    audit.record(
        "login_factor",
        actor="anonymous",
        subject=user.sub,
        outcome="failure",
        detail={"failures": failures},
        **origin,
    )
    return CodeOutcome(locked=failures >= current_app.config["FACTOR_MAX_ATTEMPTS"])


def confirm_enrolment(
    waiting: PendingSignIn, user: User, code: str, now: datetime, origin: dict[str, Any]
) -> list[str] | None:
    """The first code of an authenticator enrolled while signing in: its recovery codes,
    or None (a wrong code, counted on the pending sign-in). Raises PendingGone when another
    request finished the pending sign-in meanwhile (the caller rolls back)."""
    try:
        codes = service.confirm_totp_enrolment(user, code, now, origin)
    except service.FactorError:
        pending.count_failure(waiting)
        return None
    if not pending.finish(waiting, now):
        raise PendingGone()
    return codes
