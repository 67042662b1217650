"""Setting a password without an administrator: activation links for imported accounts,
"Quên mật khẩu?", changing one's password, and an administrator's reset that forces a
change at the next sign-in (docs/accounts.md).

Every function takes plain values, adds to the caller's transaction (the view or command
commits), records an audit event and queues an e-mail to the person (idp.mail, in their
language). Links are single use and stored hashed (idp.directory.tokens); they are built
from ISSUER, never from the request's Host header, so a forged Host cannot send a victim a
link to another site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from idp import audit, mail
from idp.directory import service as directory
from idp.directory import tokens
from idp.directory.models import PURPOSE_ACTIVATION, PURPOSE_RESET, User
from idp.directory.passwords import PolicyViolation, verify_password
from idp.directory.records import list_users
from idp.directory.service import PasswordRejected
from idp.directory.store import find_user_by_address, get_user
from idp.errors import IdpError
from idp.extensions import utcnow
from idp.i18n import local_time
from idp.interaction import throttle
from idp.mail.compose import render
from idp.mail.models import KIND_ACTIVATION, KIND_NOTICE, KIND_PASSWORD_RESET
from idp.sessions import store as session_store
from idp.sessions.logout import LogoutResult, end_sessions, end_sessions_of_users

# Paths of the pages a link opens (idp.interaction.views); the token follows.
LINK_PATHS = {PURPOSE_ACTIVATION: "/activate/", PURPOSE_RESET: "/password/reset/"}
# Mail kind and template of each link's message.
LINK_MAILS = {
    PURPOSE_ACTIVATION: (KIND_ACTIVATION, "activation"),
    PURPOSE_RESET: (KIND_PASSWORD_RESET, "password_reset"),
}
LINK_LIFETIMES = {
    PURPOSE_ACTIVATION: "ACTIVATION_LINK_SECONDS",
    PURPOSE_RESET: "PASSWORD_RESET_LINK_SECONDS",
}

# How a password came to be set, in the notice the person receives (mail/password_changed).
HOW_ACTIVATED = "activated"
HOW_RESET = "reset"
HOW_CHANGED = "changed"
HOW_FORCED = "forced"

# SsoSession.end_reason of the sessions a new password ends.
REASON_PASSWORD = "password_changed"

# What "Quên mật khẩu?" did; the page shows the same answer for all but the last.
REQUEST_SENT = "sent"
REQUEST_NO_ACCOUNT = "no_account"
REQUEST_ADDRESS_LIMIT = "address_limit"
REQUEST_CLIENT_LIMIT = "client_limit"


class WrongCurrentPassword(IdpError):
    """The current password given to change it is not the person's."""


@dataclass
class Invitation:
    """Who `idp users invite` selected: to be sent, and left out because a link sent
    earlier is still usable."""

    users: list[User] = field(default_factory=list)
    already_invited: list[User] = field(default_factory=list)


# -- links ---------------------------------------------------------------------------------


def link_url(purpose: str, token: str) -> str:
    """The link in the mail: ISSUER (configured, never the request's Host) + path + token."""
    return current_app.config["ISSUER"].rstrip("/") + LINK_PATHS[purpose] + token


def _mail_context(user: User, **extra: Any) -> dict[str, Any]:
    cfg = current_app.config
    return {
        "name": user.name,
        "email": user.email,
        "support_email": cfg.get("SUPPORT_EMAIL") or "",
        "support_phone": cfg.get("SUPPORT_PHONE") or "",
        **extra,
    }


def send_link(
    user: User,
    purpose: str,
    *,
    actor: str,
    send_after: datetime | None = None,
    origin: dict[str, str | None] | None = None,
) -> None:
    """Store a new single-use link for `user` and queue the mail that carries it."""
    lifetime = int(current_app.config[LINK_LIFETIMES[purpose]])
    token = tokens.issue_link(
        user, purpose, lifetime_seconds=lifetime, actor=actor, start=send_after
    )
    expires_at = max(utcnow(), send_after or utcnow()) + timedelta(seconds=lifetime)
    kind, template = LINK_MAILS[purpose]
    context = _mail_context(
        user,
        link=link_url(purpose, token),
        expires=local_time(expires_at),
    )
    mail.queue(user.email, kind, template, context, user.locale, send_after=send_after)
    audit.record(
        "password.link_sent",
        actor=actor,
        subject=user.sub,
        detail={"purpose": purpose, "to": user.email},
        **(origin or {}),
    )


def check_link(token: str, purpose: str) -> tokens.LinkCheck:
    """May this link be used now? Read-only (the page that asks for the new password)."""
    return tokens.check_link(token, purpose)


def set_password_by_link(
    token: str, purpose: str, password: str, origin: dict[str, str | None]
) -> User | None:
    """Use the link to set the password: the policy first (nothing is used up by a
    rejected password), then the link, atomically (None when it was used meanwhile, by a
    request that won the race, or has expired). Every session of the person ends, with
    single sign-out and every grant revoked: whoever knew the old password is out."""
    check = tokens.check_link(token, purpose)
    if check.user is None:
        return None
    directory.check_password(password, [check.user.email, *check.user.aliases])
    user_id = tokens.use_link(token, purpose)
    user = get_user(user_id) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    directory.store_password(user, password)
    ended = end_sessions_of_users([user.id], REASON_PASSWORD)
    how = HOW_ACTIVATED if purpose == PURPOSE_ACTIVATION else HOW_RESET
    audit.record(
        "password.activate" if how == HOW_ACTIVATED else "password.reset",
        actor=user.sub,
        subject=user.sub,
        detail={"sessions_ended": ended},
        **origin,
    )
    notify_password_changed(user, how, origin)
    return user


def notify_password_changed(user: User, how: str, origin: dict[str, str | None]) -> None:
    """The notice every new password sends: when, from where, and what to do if it was
    not them."""
    context = _mail_context(user, how=how, when=local_time(utcnow()), ip=origin.get("ip") or "")
    mail.queue(user.email, KIND_NOTICE, "password_changed", context, user.locale)


# -- "Quên mật khẩu?" ----------------------------------------------------------------------


def request_reset(address: str, *, ip: str | None, user_agent: str | None) -> str:
    """Someone asks for a link to set the password of `address`.

    Counted per client address first (REQUEST_CLIENT_LIMIT: the only answer that differs,
    and it says nothing about the address), then per account (any of its addresses) or,
    for an address that is no account, per typed address. An
    active account then gets a link: a reset link, or an activation link when it has no
    password yet. The work done for an address that is no account is the same up to the
    mail's rendering (done and thrown away), so the time of the answer tells little.
    """
    now = utcnow()
    cfg = current_app.config
    origin = {"ip": ip, "user_agent": user_agent}
    typed = address.strip()[:320]
    if ip and not throttle.count_request(
        throttle.reset_client_key(ip), cfg["PASSWORD_RESET_PER_CLIENT"], now
    ):
        outcome = REQUEST_CLIENT_LIMIT
    else:
        # An account is counted as one whichever of its addresses is typed (a victim with
        # aliases gets no more mail); an address that is no account, under itself.
        user = find_user_by_address(typed)
        key = (
            throttle.reset_account_key(user.sub)
            if user is not None
            else throttle.reset_address_key(typed)
        )
        if not throttle.count_request(key, cfg["PASSWORD_RESET_PER_ADDRESS"], now):
            outcome = REQUEST_ADDRESS_LIMIT
        else:
            outcome = _send_reset(user, typed, origin)
    if outcome != REQUEST_SENT:
        audit.record(
            "password.reset_request",
            actor="anonymous",
            subject=typed,
            outcome="refused" if outcome != REQUEST_NO_ACCOUNT else "failure",
            detail={"reason": outcome},
            **origin,
        )
    return outcome


def _send_reset(user: User | None, typed: str, origin: dict[str, str | None]) -> str:
    if user is None or not user.is_active:
        # As much work as a real request (render the mail), then nothing is kept.
        render(
            "password_reset",
            {"name": "", "email": typed, "link": "", "expires": ""},
            current_app.config["LANGUAGES"][0],
        )
        return REQUEST_NO_ACCOUNT
    purpose = PURPOSE_ACTIVATION if user.password_hash is None else PURPOSE_RESET
    send_link(user, purpose, actor="anonymous", origin=origin)
    return REQUEST_SENT


# -- changing a password -------------------------------------------------------------------


def _check_new_password(user: User, new: str) -> None:
    """The policy, and not the password the person has now."""
    directory.check_password(new, [user.email, *user.aliases])
    if verify_password(user.password_hash, new):
        message = _("Mật khẩu mới phải khác mật khẩu hiện tại.")
        raise PasswordRejected([PolicyViolation("same_as_current", message)])


def _end_other_sessions(
    user: User, keep_session_id: int | None, origin: dict[str, str | None]
) -> LogoutResult:
    """Every other session of the person ends, each relying party told (single sign-out)."""
    now = utcnow()
    ids = [i for i in session_store.open_session_ids([user.id], now) if i != keep_session_id]
    result = end_sessions(ids, reason=REASON_PASSWORD, now=now)
    if result.sids:
        audit.record(
            "session.end",
            actor=user.sub,
            subject=user.sub,
            detail={
                "sids": result.sids,
                "reason": REASON_PASSWORD,
                "notices": len(result.delivery_ids),
            },
            **origin,
        )
    return result


def count_change_attempt(user: User) -> int:
    """Count an attempt to change the password against the account's sign-in throttle
    before the current password is checked (the caller commits at once, as for a sign-in):
    a stolen session cannot be used to guess the password faster than the sign-in page
    allows. Seconds to wait when held back, else 0."""
    wait, _counted = throttle.reserve([throttle.account_key(user.sub, user.email)], utcnow())
    return wait


def change_password(
    user: User,
    current: str,
    new: str,
    *,
    keep_session_id: int | None,
    origin: dict[str, str | None],
) -> int:
    """The person changes their password on the account page: the current one, then the
    policy; then every other session of theirs ends. Returns how many ended."""
    if not verify_password(user.password_hash, current):
        audit.record(
            "password.change",
            actor=user.sub,
            subject=user.sub,
            outcome="failure",
            detail={"reason": "wrong_current_password"},
            **origin,
        )
        raise WrongCurrentPassword("the current password is not right")
    throttle.give_back([throttle.account_key(user.sub, user.email)], utcnow())
    _check_new_password(user, new)
    directory.store_password(user, new)
    result = _end_other_sessions(user, keep_session_id, origin)
    audit.record(
        "password.change",
        actor=user.sub,
        subject=user.sub,
        detail={"sessions_ended": len(result.sids)},
        **origin,
    )
    notify_password_changed(user, HOW_CHANGED, origin)
    return len(result.sids)


def finish_forced_change(user: User, new: str, origin: dict[str, str | None]) -> None:
    """After an administrator's reset, the person (who just signed in with the temporary
    password) chooses their own; the caller then starts their session."""
    _check_new_password(user, new)
    directory.store_password(user, new)
    end_sessions_of_users([user.id], REASON_PASSWORD)
    audit.record(
        "password.change", actor=user.sub, subject=user.sub, detail={"forced": True}, **origin
    )
    notify_password_changed(user, HOW_FORCED, origin)


def change_ticket_fingerprint(user: User) -> str:
    """Binds a forced-change ticket to the temporary password it was earned with: once the
    password changes, an old ticket opens nothing."""
    return tokens.hash_token(f"{user.sub}:{user.password_hash or ''}")[:32]


# -- administrators ------------------------------------------------------------------------


def admin_reset(user: User, temporary: str, *, actor: str) -> int:
    """An administrator gives the person a temporary password, to be changed at their next
    sign-in: every session and grant of theirs ends, open links are void, and the person
    is told by e-mail. Returns the sessions ended."""
    directory.store_password(user, temporary, must_change=True)
    ended = end_sessions_of_users([user.id], REASON_PASSWORD)
    audit.record(
        "password.admin_reset", actor=actor, subject=user.sub, detail={"sessions_ended": ended}
    )
    context = _mail_context(user, when=local_time(utcnow()))
    mail.queue(user.email, KIND_NOTICE, "password_admin_reset", context, user.locale)
    return ended


def select_invitation(
    unit_ids: list[int] | None, *, without_password: bool, now: datetime | None = None
) -> Invitation:
    """Active accounts of these units (all when None), only those without a password if
    asked; those with an activation link still usable are left out."""
    users = [
        u for u in list_users(unit_ids, "active") if not without_password or u.password_hash is None
    ]
    open_ids = tokens.users_with_open_link(
        [u.id for u in users], PURPOSE_ACTIVATION, now or utcnow()
    )
    invitation = Invitation()
    for user in users:
        (invitation.already_invited if user.id in open_ids else invitation.users).append(user)
    return invitation


def invite(users: list[User], *, actor: str, send_after: datetime | None) -> None:
    """Send each of these people an activation link, their mails due at `send_after` (one
    batch of `idp users invite`; the command commits each batch)."""
    for user in users:
        send_link(user, PURPOSE_ACTIVATION, actor=actor, send_after=send_after)
