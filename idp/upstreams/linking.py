"""Linking an upstream identity to a person of ours, safely (docs/upstreams.md, "Linking").

A verified upstream identity with no link (idp.upstreams.service.find_person) becomes a
link in one of three ways, each a deliberate act of the person and an audit event
`upstream.link`:

- **proof**: the person proves the local account once, by signing in to it on our own
  sign-in page (password, then the second factor where the account has one or must have
  one; throttled and locked out as every sign-in), after the upstream came back. The
  link step checks that the browser's session was authenticated after that moment
  (`proved_since`), so an old session left open on a shared computer proves nothing.
- **e-mail**: only where the upstream is configured `trust_verified_email` and says
  `email_verified: true` for an address that is an active account's; even then the person
  confirms on a page (CSRF-protected form), never silently. Never to an account that
  holds power over others (roles, unit administration: idp.directory.guards.privileged):
  an upstream that vouches for `admin@...` must not hand over the super-administrator;
  such a person links by proof.
- **creation**: only where the upstream is configured `create_accounts`: a new account in
  `create_in_unit`, flagged as coming from that upstream (upstream_account_origins). An
  address from the upstream is kept only if verified and nobody has it.

A link key already linked to another account, or an account already linked to another
identity at the same upstream, is refused (`LinkRefused`): one identity, one account.
The caller commits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from idp import audit
from idp.assurance import AMR_HARDWARE_KEY, AMR_PASSWORD, AMR_SOFTWARE_KEY, SECOND_FACTORS
from idp.directory import guards
from idp.directory.models import User
from idp.directory.store import find_unit, find_user_by_address, set_addresses
from idp.errors import IdpError
from idp.extensions import db, utcnow
from idp.factors import methods
from idp.sessions.models import SsoSession
from idp.upstreams import store
from idp.upstreams.config import Upstream
from idp.upstreams.flow import VerifiedIdentity
from idp.upstreams.models import (
    LINKED_BY_CREATION,
    LINKED_BY_EMAIL,
    LINKED_BY_PROOF,
    UpstreamLink,
)
from idp.upstreams.origin_models import UpstreamAccountOrigin

AUDIT_LINK = "upstream.link"
AUDIT_UNLINK = "upstream.unlink"
AUDIT_CREATE = "upstream.account_created"

# LinkRefused.reason values.
TAKEN = "taken"  # the link key is linked to another account
ALREADY_LINKED = "already_linked"  # the account has another identity at this upstream
NOT_ALLOWED = "not_allowed"  # the upstream is not configured for this way of linking
NO_UNIT = "no_unit"  # create_in_unit names no unit
# upstream_links.id is an INTEGER column (32 bits on PostgreSQL): a larger number names no link.
MAX_LINK_ID = 2**31 - 1
# First factors that prove the account: the password, or a passkey (with or without
# user verification, the sign-in page asks for what the account needs).
FIRST_FACTORS = (AMR_PASSWORD, AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY)


class LinkRefused(IdpError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- proof of the account


def _done_after(
    auth_times: Mapping[str, Any] | None, names: tuple[str, ...], after: Mapping[str, int]
) -> bool:
    times = auth_times or {}
    return any(isinstance(times.get(n), int) and times[n] >= after.get(n, 0) for n in names)


def proved_since(sso: SsoSession, since: datetime, before: ProofStart | None = None) -> bool:
    """Whether the session's person proved the account at or after `since`: a first factor
    then, and a second factor then too when the account has one. `before`: the browser's
    session when the person chose to prove an account; if it is this same session, each
    method must have been done again since (its times are whole seconds, so a sign-in a
    moment before `since` would otherwise pass)."""
    moment = int(since.replace(tzinfo=since.tzinfo or UTC).timestamp())
    after = {n: moment for n in (*FIRST_FACTORS, *SECOND_FACTORS)}
    if before is not None and before.sid == sso.sid:
        after = {n: max(moment, before.times.get(n, -1) + 1) for n in after}
    if not _done_after(sso.auth_times, FIRST_FACTORS, after):
        return False
    if methods.has_second_factor(sso.user):
        return _done_after(sso.auth_times, (*SECOND_FACTORS, AMR_HARDWARE_KEY), after)
    return True


@dataclass(frozen=True)
class ProofStart:
    """The browser's session (if any) when the person chose to prove an account."""

    sid: str | None
    times: Mapping[str, int]

    @classmethod
    def of(cls, sso: SsoSession | None) -> ProofStart:
        if sso is None:
            return cls(None, {})
        times = {k: v for k, v in (sso.auth_times or {}).items() if isinstance(v, int)}
        return cls(sso.sid, times)


# ---------------------------------------------------------------- e-mail


def _verified_email(identity: VerifiedIdentity) -> str | None:
    attributes = identity.attributes
    email = attributes.get("email")
    if attributes.get("email_verified") is not True or not isinstance(email, str):
        return None
    return email.strip() or None


def email_candidate(upstream: Upstream, identity: VerifiedIdentity) -> User | None:
    """The active account whose address the upstream vouches for, where it may: the
    upstream is trusted for verified e-mail, says this one is verified, and the account is
    not privileged (roles, unit administration: those link by proof only). Else None."""
    if not upstream.trust_verified_email:
        return None
    email = _verified_email(identity)
    user = find_user_by_address(email) if email else None
    if user is None or not user.is_active or guards.privileged(user.id):
        return None
    return user


# ---------------------------------------------------------------- links


def link_person(
    user: User,
    upstream: Upstream,
    identity: VerifiedIdentity,
    *,
    linked_by: str,
    origin: Mapping[str, Any],
    now: datetime | None = None,
) -> UpstreamLink:
    """Link `user` to the identity (LinkRefused: taken, or another identity already)."""
    existing = store.find_link(upstream.name, identity.link_key)
    if existing is not None:
        if existing.user_id == user.id:
            return existing
        raise LinkRefused(TAKEN)
    if any(link.upstream == upstream.name for link in store.links_of(user.id)):
        raise LinkRefused(ALREADY_LINKED)
    link = store.add_link(user, upstream.name, identity.link_key, linked_by=linked_by, now=now)
    audit.record(
        AUDIT_LINK,
        actor=user.sub,
        subject=user.sub,
        detail={"upstream": upstream.name, "linked_by": linked_by, "link_id": link.id},
        **origin,
    )
    return link


def link_by_proof(user, upstream, identity, origin, now=None) -> UpstreamLink:
    return link_person(user, upstream, identity, linked_by=LINKED_BY_PROOF, origin=origin, now=now)


def link_by_email(
    upstream: Upstream, identity: VerifiedIdentity, origin: Mapping[str, Any], now=None
) -> tuple[User, UpstreamLink]:
    """The person confirmed the account the upstream's verified address names."""
    user = email_candidate(upstream, identity)
    if user is None:
        raise LinkRefused(NOT_ALLOWED)
    link = link_person(user, upstream, identity, linked_by=LINKED_BY_EMAIL, origin=origin, now=now)
    return user, link


def remove_link(
    user: User, link_id: int, origin: Mapping[str, Any], *, actor: str | None = None
) -> bool:
    """Remove one of the person's links: the person from the account page, or an
    administrator (`actor`) from the console; False when it is not theirs (or when the id
    is beyond the INTEGER column, which the database would refuse with an error)."""
    if not 0 < link_id <= MAX_LINK_ID:
        return False
    link = db.session.get(UpstreamLink, link_id)
    if link is None or link.user_id != user.id:
        return False
    db.session.delete(link)
    audit.record(
        AUDIT_UNLINK,
        actor=actor or user.sub,
        subject=user.sub,
        detail={"upstream": link.upstream, "link_id": link_id, "linked_by": link.linked_by},
        **origin,
    )
    return True


def links_of(user: User) -> list[UpstreamLink]:
    return store.links_of(user.id)


def origin_of(user: User) -> str | None:
    """The upstream the account was created from at a first sign-in, or None."""
    row = db.session.get(UpstreamAccountOrigin, user.id)
    return row.upstream if row is not None else None


# ---------------------------------------------------------------- accounts


def split_name(full: str) -> tuple[str, str, str]:
    """A Vietnamese full name as (family, middle, given): "Nguyễn Văn An" -> Nguyễn, Văn, An."""
    words = full.split()
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]


def _names(attributes: Mapping[str, Any]) -> tuple[str, str, str]:
    parts = [attributes.get(k) for k in ("family_name", "middle_name", "given_name")]
    if any(isinstance(p, str) and p.strip() for p in parts):
        return tuple((p or "").strip()[:128] if isinstance(p, str) else "" for p in parts)
    name = attributes.get("name")
    family, middle, given = split_name(name if isinstance(name, str) else "")
    return family[:128], middle[:128], given[:128]


def _free_verified_email(identity: VerifiedIdentity) -> str:
    """The upstream's address if verified and nobody's here (never taken over), else ""."""
    email = _verified_email(identity)
    if not email or len(email) > 320 or find_user_by_address(email) is not None:
        return ""
    return email


def create_account(
    upstream: Upstream,
    identity: VerifiedIdentity,
    origin: Mapping[str, Any],
    now: datetime | None = None,
) -> User:
    """A new account for the identity in the configured unit, linked to it and flagged as
    coming from the upstream. LinkRefused when creation is off or the unit is missing."""
    if not upstream.create_accounts:
        raise LinkRefused(NOT_ALLOWED)
    unit = find_unit(upstream.create_in_unit)
    if unit is None:
        raise LinkRefused(NO_UNIT)
    if store.find_link(upstream.name, identity.link_key) is not None:
        raise LinkRefused(TAKEN)
    now = now or utcnow()
    family, middle, given = _names(identity.attributes)
    user = User(family_name=family, middle_name=middle, given_name=given, unit_id=unit.id)
    phone = identity.attributes.get("phone_number")
    if isinstance(phone, str) and identity.attributes.get("phone_number_verified") is True:
        user.phone_number = phone[:32]
    set_addresses(user, _free_verified_email(identity), [])
    db.session.add(user)
    db.session.flush()
    db.session.add(UpstreamAccountOrigin(user_id=user.id, upstream=upstream.name, created_at=now))
    audit.record(
        AUDIT_CREATE,
        actor=f"upstream:{upstream.name}",
        subject=user.sub,
        detail={"upstream": upstream.name, "unit": unit.code, "with_email": bool(user.email)},
        **origin,
    )
    link_person(user, upstream, identity, linked_by=LINKED_BY_CREATION, origin=origin, now=now)
    return user


def created_by_upstream(user_ids: Collection[int]) -> set[int]:
    """Which of these accounts were created at a first sign-in through an upstream
    (idp.directory.guards: not the LDAP sync's to adopt by address)."""
    rows = db.session.scalars(
        sa.select(UpstreamAccountOrigin.user_id).where(
            UpstreamAccountOrigin.user_id.in_(list(user_ids))
        )
    )
    return set(rows)


def accounts_created_by(upstream: str) -> list[int]:
    """The ids of the accounts created at a first sign-in through `upstream`."""
    return list(
        db.session.execute(
            sa.select(UpstreamAccountOrigin.user_id).where(
                UpstreamAccountOrigin.upstream == upstream
            )
        ).scalars()
    )
