"""From a verified upstream identity to a person of ours: by the link key only
(docs/upstreams.md, "Linking"). No link: the identity waits in a pending link for the
link step (`/login/upstream/<name>/link`), never a session by itself, never a link made
silently by e-mail. The caller commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idp import audit
from idp.assurance import federated_method
from idp.directory.models import User
from idp.extensions import utcnow
from idp.sessions.logout import REASON_REPLACED, end_sessions
from idp.sessions.models import SsoSession
from idp.sessions.store import reauthenticate, start_session
from idp.upstreams import store
from idp.upstreams.client import REFUSED_ACCOUNT, UpstreamError
from idp.upstreams.flow import VerifiedIdentity

AUDIT_SIGN_IN = "upstream.login"
AUDIT_PENDING = "upstream.link_needed"


@dataclass(frozen=True)
class Outcome:
    """The linked person to start a session for, or the pending link's handle."""

    user: User | None = None
    pending_handle: str | None = None


def audit_failure(upstream: str, code: str, detail: str, origin: Mapping[str, Any]) -> None:
    """Every brokered sign-in that ends on the error page leaves this event."""
    audit.record(
        AUDIT_SIGN_IN,
        actor=f"upstream:{upstream}",
        subject=None,
        outcome="failure",
        detail={"upstream": upstream, "reason": code, "detail": detail},
        **origin,
    )


def find_person(
    identity: VerifiedIdentity,
    config: Mapping[str, Any],
    origin: Mapping[str, Any],
    now: datetime | None = None,
) -> Outcome:
    """The person linked to this identity (an active one: a disabled or removed person
    raises REFUSED_ACCOUNT), or a pending link for the link step."""
    now = now or utcnow()
    link = store.find_link(identity.upstream, identity.link_key)
    if link is None:
        handle = store.begin_pending_link(identity, config, now)
        audit.record(
            AUDIT_PENDING,
            actor=f"upstream:{identity.upstream}",
            outcome="pending",
            detail={"upstream": identity.upstream, "level": identity.level},
            **origin,
        )
        return Outcome(pending_handle=handle)
    user = link.user
    if not user.is_active:
        raise UpstreamError(REFUSED_ACCOUNT, f"the linked account is {user.status}")
    link.last_used_at = now
    return Outcome(user=user)


def start_upstream_session(
    user: User,
    identity: VerifiedIdentity,
    existing: SsoSession | None,
    config: Mapping[str, Any],
    origin: Mapping[str, Any],
    *,
    remember: bool = False,
    now: datetime | None = None,
) -> tuple[str, SsoSession]:
    """The SSO session of a brokered sign-in, as a password sign-in makes one: the same
    person's session re-authenticated (same sid), another person's replaced, or a new one.
    The method recorded is the upstream's level (idp.assurance.federated_method), so the
    session's acr is what the settings' table gave, never more; the upstream's words are
    kept in upstream_sessions. Returns (cookie handle, session); the caller commits."""
    now = now or utcnow()
    method = federated_method(identity.level)
    # When the person authenticated: the upstream's auth_time (its own session may be
    # older than this sign-in, and max_age must see that), never later than now.
    stamp = int(now.timestamp())
    when = {method: min(identity.auth_time or stamp, stamp)}
    if existing is not None and existing.user_id == user.id:
        handle = reauthenticate(existing, amr=[], auth_times=when, now=now)
        sso = existing
    else:
        if existing is not None:
            end_sessions([existing.id], reason=REASON_REPLACED)
        handle, sso = start_session(
            user,
            amr=[method],
            auth_times=when,
            remember=remember,
            now=now,
            ip=origin.get("ip"),
            user_agent=origin.get("user_agent"),
        )
    user.last_login_at = now
    store.record_upstream_session(sso, identity, config)
    audit.record(
        AUDIT_SIGN_IN,
        actor=user.sub,
        subject=user.sub,
        detail={
            "upstream": identity.upstream,
            "level": identity.level,
            "upstream_acr": identity.acr,
            "loAs": identity.loas,
            "amr": sso.amr,
        },
        **origin,
    )
    return handle, sso
