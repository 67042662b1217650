"""What an administrator does to a person from the console (and the admin API): each a
plain function of the person, the administrator's scope and the request's origin, adding
to the caller's transaction (the view commits) and leaving an audit event whose actor is
the administrator's sub. The checks of who may do it are idp.admin.permissions'; the work
is the other packages' own service functions, the same ones the `idp users` and
`idp sessions` commands call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp import audit
from idp.admin import permissions
from idp.admin.permissions import AdminScope
from idp.directory import service as directory
from idp.directory.models import PURPOSE_ACTIVATION, PURPOSE_RESET, Unit, User
from idp.extensions import utcnow
from idp.factors import service as factors
from idp.interaction import passwords
from idp.interaction.service import unlock_account
from idp.passkeys import service as passkeys
from idp.sessions.logout import REASON_ADMIN, end_user_sessions
from idp.upstreams import linking


class ActionRefused(Exception):
    """The action cannot be done to this person; `code` names the reason for the page."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Action:
    name: str
    # Asks for a confirmation page before it is done.
    destructive: bool
    # Only for provincial super-administrators.
    super_only: bool = False


ACTIONS = {
    a.name: a
    for a in (
        Action("disable", destructive=True),
        Action("enable", destructive=False),
        Action("unlock", destructive=False),
        Action("send-activation", destructive=False),
        Action("send-reset", destructive=False),
        Action("reset-factors", destructive=True),
        Action("end-sessions", destructive=True),
        Action("grant-unit", destructive=False, super_only=True),
        Action("revoke-unit", destructive=True, super_only=True),
        Action("remove-upstream-link", destructive=True),
    )
}


@dataclass
class Outcome:
    """What happened, for the page's notice: `code` and numbers."""

    code: str
    count: int = 0


def disable(user: User, scope: AdminScope, origin: dict) -> Outcome:
    """Disable the account; its sessions end with single sign-out (the directory's
    sign_ins_withdrawn hook, like `idp users disable`)."""
    if user.sub == scope.actor:
        raise ActionRefused("self_disable")
    if not directory.disable_user(user, scope.actor):
        return Outcome("already_disabled")
    return Outcome("disabled")


def enable(user: User, scope: AdminScope, origin: dict) -> Outcome:
    return Outcome("enabled" if directory.enable_user(user, scope.actor) else "already_active")


def unlock(user: User, scope: AdminScope, origin: dict) -> Outcome:
    cleared = unlock_account(user, scope.actor)
    return Outcome("unlocked" if cleared.get("held_back") else "nothing_to_unlock")


def _send(user: User, scope: AdminScope, origin: dict, purpose: str) -> Outcome:
    if not user.is_active:
        raise ActionRefused("disabled_account")
    passwords.send_link(user, purpose, actor=scope.actor, origin=origin)
    return Outcome("activation_sent" if purpose == PURPOSE_ACTIVATION else "reset_sent")


def send_activation(user: User, scope: AdminScope, origin: dict) -> Outcome:
    return _send(user, scope, origin, PURPOSE_ACTIVATION)


def send_reset(user: User, scope: AdminScope, origin: dict) -> Outcome:
    return _send(user, scope, origin, PURPOSE_RESET)


def reset_factors(user: User, scope: AdminScope, origin: dict) -> Outcome:
    """Remove the authenticator app, the recovery codes and every passkey (the person lost
    their phone or key). Sessions are left alone, as Keycloak does when an administrator
    removes a credential: ending them is its own action (docs/admin.md)."""
    removed = 0
    if factors.has_totp(user):
        factors.remove_totp(user, utcnow(), origin, actor=scope.actor)
        removed += 1
    for passkey in passkeys.passkeys_of(user):
        passkeys.remove(user, passkey.id, origin=origin, actor=scope.actor)
        removed += 1
    audit.record(
        "factors.admin_reset",
        actor=scope.actor,
        subject=user.sub,
        detail={"removed": removed},
        **origin,
    )
    return Outcome("factors_reset" if removed else "no_factors", removed)


def end_sessions(user: User, scope: AdminScope, origin: dict, sid: str | None = None) -> Outcome:
    """End one session (`sid`) or all: back-channel logout notices are queued in this
    transaction and sent right after it commits (idp.sessions.worker), like
    `idp sessions revoke`."""
    result = end_user_sessions(user, reason=REASON_ADMIN, actor=scope.actor, sid=sid, origin=origin)
    if sid and not result.sids:
        raise ActionRefused("no_such_session")
    return Outcome("sessions_ended", len(result.sids))


def grant_unit(user: User, scope: AdminScope, origin: dict, unit: Unit | None) -> Outcome:
    if unit is None:
        raise ActionRefused("no_such_unit")
    granted = permissions.grant_unit(user, unit, actor=scope.actor, origin=origin)
    return Outcome("granted" if granted else "already_granted")


def revoke_unit(user: User, scope: AdminScope, origin: dict, unit: Unit | None) -> Outcome:
    if unit is None:
        raise ActionRefused("no_such_unit")
    if permissions.would_lose_last_path(user, unit, actor=scope.actor):
        raise ActionRefused("self_last_path")
    revoked = permissions.revoke_unit(user, unit, actor=scope.actor, origin=origin)
    return Outcome("revoked" if revoked else "not_granted")


def remove_upstream_link(
    user: User, scope: AdminScope, origin: dict, link_id: int | None
) -> Outcome:
    """Remove one of the person's links to an upstream provider (the identity at the
    upstream no longer signs in to this account; the person may link again)."""
    if link_id is None or not linking.remove_link(user, link_id, origin, actor=scope.actor):
        raise ActionRefused("no_such_link")
    return Outcome("upstream_link_removed")


def run(name: str, user: User, scope: AdminScope, origin: dict, **extra: Any) -> Outcome:
    """Do action `name` (a key of ACTIONS) to `user`; the caller checked the scope."""
    simple = {
        "disable": disable,
        "enable": enable,
        "unlock": unlock,
        "send-activation": send_activation,
        "send-reset": send_reset,
        "reset-factors": reset_factors,
    }
    if name in simple:
        return simple[name](user, scope, origin)
    if name == "end-sessions":
        return end_sessions(user, scope, origin, sid=extra.get("sid"))
    if name == "grant-unit":
        return grant_unit(user, scope, origin, extra.get("unit"))
    if name == "remove-upstream-link":
        return remove_upstream_link(user, scope, origin, extra.get("link_id"))
    return revoke_unit(user, scope, origin, extra.get("unit"))
