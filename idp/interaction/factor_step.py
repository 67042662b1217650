"""The second step of signing in: a code from the person's second factor, or one of their
passkeys, after the password (or, stepping up, after the SSO session's password), before
any session exists.

The pages (idp.interaction.views) commit; this module only adds to the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, session

from idp import audit
from idp.assurance import ACR_PHISHING_RESISTANT, AMR_PASSWORD, rank
from idp.directory.models import User
from idp.extensions import db
from idp.factors import methods, pending, policy
from idp.factors import service as factors_service
from idp.factors.models import PendingSignIn
from idp.interaction import throttle
from idp.jsontext import InvalidJson, loads
from idp.passkeys import ceremonies
from idp.passkeys.service import Authentication, PasskeyError

# The level the relying party asked for, kept in the browser's page session: as the sign-in
# page was opened, then bound to the pending sign-in made after it (see note_goal).
ASKED_KEY = "factor_acr_asked"
GOAL_KEY = "factor_goal"
BODY_MAX_BYTES = 96 * 1024
BODY_MAX_DEPTH = 8


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
    if methods.has_second_factor(user):
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
    handle = pending.create(
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
    _bind_goal(handle)
    return handle


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
        codes = factors_service.confirm_totp_enrolment(
            user, code, now, origin, factors_service.shown_mark()
        )
    except factors_service.FactorError:
        pending.count_failure(waiting)
        return None
    if not pending.finish(waiting, now):
        raise PendingGone()
    return codes


# ---------------------------------------------------------------- the level asked for


def note_goal(acr: str | None) -> None:
    """Keep the level the authorization endpoint asks for (`acr` on /login) for the factor
    page, which offers only the methods reaching it (a passkey for the phishing-resistant
    level). Only a choice of what to show: the session's level is computed from what was
    done (idp.assurance), so a browser changing it gains nothing."""
    if acr and rank(acr) > 0:
        session[ASKED_KEY] = acr
    elif ASKED_KEY in session:
        session.pop(ASKED_KEY)


def _tag(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()[:16]


def _bind_goal(handle: str) -> None:
    """The level asked for as the sign-in page was opened belongs to this pending sign-in."""
    asked = session.pop(ASKED_KEY, None)
    if isinstance(asked, str):
        session[GOAL_KEY] = {"for": _tag(handle), "acr": asked}
    elif GOAL_KEY in session:
        session.pop(GOAL_KEY)


def goal_rank(waiting: PendingSignIn) -> int:
    """The rank of the level asked for when this pending sign-in was made (0: none)."""
    goal = session.get(GOAL_KEY)
    if not isinstance(goal, dict) or goal.get("for") != waiting.handle_hash[:16]:
        return 0
    acr = goal.get("acr")
    return rank(acr) if isinstance(acr, str) else 0


def offered(waiting: PendingSignIn, user: User) -> list[methods.FactorMethod]:
    return methods.offered(user, goal_rank(waiting))


def offers(waiting: PendingSignIn, user: User, form: str) -> bool:
    return any(m.form == form for m in offered(waiting, user))


def enrolling(waiting: PendingSignIn, user: User) -> bool:
    """The pending sign-in enrols a first second factor: only for who has none, so a
    password alone never adds a factor beside an existing one."""
    return waiting.enrol and not methods.has_second_factor(user)


# ---------------------------------------------------------------- a passkey


def json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = loads(raw, max_length=BODY_MAX_BYTES, max_depth=BODY_MAX_DEPTH)
    except InvalidJson:
        return {}
    return body if isinstance(body, dict) else {}


def passkey_options(waiting: PendingSignIn, user: User) -> dict[str, Any]:
    """Options for navigator.credentials.get() with the person's own passkeys; user
    verification required when the level asked for is the phishing-resistant one."""
    strong = goal_rank(waiting) >= rank(ACR_PHISHING_RESISTANT)
    return ceremonies.begin_authentication(user, require_user_verification=strong)


def check_passkey(
    waiting: PendingSignIn, user: User, credential: Any, now: datetime, origin: dict[str, Any]
) -> Authentication:
    """Verify a passkey answer of the pending person: on success the pending sign-in is
    finished (once; PendingGone when another request did, the caller rolls back); a refused
    answer counts as a wrong code on it and raises PasskeyError."""
    try:
        result = ceremonies.finish_authentication(credential, user=user)
    except PasskeyError as error:
        failures = pending.count_failure(waiting)
        audit.record(
            "login_factor",
            actor="anonymous",
            subject=user.sub,
            outcome="failure",
            detail={"method": "passkey", "reason": error.reason, "failures": failures},
            **origin,
        )
        raise
    if not pending.finish(waiting, now):
        raise PendingGone()
    audit.record(
        "login_factor",
        actor=user.sub,
        subject=user.sub,
        detail={"method": "passkey", "passkey_id": result.passkey.id, "amr": result.amr},
        **origin,
    )
    return result
