"""Who may administer what: the one place where the console and the admin API ask.

- A person with the role "admin" is a provincial super-administrator: every unit, every
  person, every application, the keys and the deliveries.
- A person with rows in unit_admins administers the people and units of those units'
  subtrees, and nothing else (no applications, no keys, no deliveries).
- Anyone else administers nothing: the console and the API answer 403, and the refusal is an
  audit event ("admin.denied").

The admin API (idp.admin.api) asks here too. A token carries the admin scopes
(ADMIN_READ, ADMIN_WRITE) its client was registered for by an administrator; what it may
act on is `scope_for_token`:

- a token issued to a person (authorization code) acts as that person: their scope, read
  again at every call (a person disabled or demoted since the token was issued loses access
  at once), and only for the operations the token's scopes allow (`token_allows`);
- a client_credentials token (automation) acts as a super-administrator only when the
  client is marked `admin_automation` in its registration (a manifest or `idp clients`,
  i.e. by a super-administrator); any other client's token administers nothing.

A scope is computed once per request from the directory's unit tree (about 700 units: one
query of (id, parent_id) pairs) and then answers every question of the request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from idp import audit, profile
from idp.admin.models import UnitAdmin
from idp.clients import Client
from idp.directory.models import Unit, User
from idp.extensions import db

SUPER_ROLE = "admin"
# The admin API's scopes (OAuth 2.0 scope tokens, RFC 6749 3.3). A client obtains them only
# when an administrator registered them for it; dynamic registration refuses them
# (idp.clients.metadata). Writing implies reading.
ADMIN_SCOPES = profile.ADMIN_API_SCOPES
ADMIN_READ, ADMIN_WRITE = ADMIN_SCOPES
# The client metadata field (set by administrators only) that lets a client's
# client_credentials tokens act as a super-administrator.
AUTOMATION_FIELD = "admin_automation"


@dataclass(frozen=True)
class AdminScope:
    """What one administrator (a person, or an automation client) may act on."""

    # For the audit log: a person's sub or a client_id.
    actor: str
    everything: bool = False
    # The units administered, their subtrees included; empty for a super-administrator.
    unit_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_super(self) -> bool:
        return self.everything

    def covers_unit(self, unit_id: int | None) -> bool:
        if self.everything:
            return True
        return unit_id is not None and unit_id in self.unit_ids

    def covers_user(self, user: User) -> bool:
        """A person is in scope when their unit is; a person without a unit only for a
        super-administrator."""
        return self.covers_unit(user.unit_id)

    def filter_users(self, query: sa.Select) -> sa.Select:
        """A select of users narrowed to this scope."""
        if self.everything:
            return query
        return query.where(User.unit_id.in_(sorted(self.unit_ids)))

    def filter_units(self, query: sa.Select) -> sa.Select:
        if self.everything:
            return query
        return query.where(Unit.id.in_(sorted(self.unit_ids)))

    def people_units(self, within: frozenset[int] | None = None) -> frozenset[int] | None:
        """The units whose people a search may list: `within` (a unit's subtree the
        administrator chose, None for no choice) narrowed to this scope; None means every
        unit and people without one (a super-administrator who chose none)."""
        if self.everything:
            return within
        return self.unit_ids if within is None else within & self.unit_ids

    def filter_events(self, query: sa.Select) -> sa.Select:
        """Audit events narrowed to this scope: a unit administrator sees the events about
        people of their units (whose subject is such a person's sub), nothing else."""
        if self.everything:
            return query
        subs = sa.select(User.sub).where(User.unit_id.in_(sorted(self.unit_ids)))
        return query.where(audit.AuditEvent.subject.in_(subs))

    def may_grant(self) -> bool:
        """Making and revoking unit administrators is the provincial super-administrators'."""
        return self.everything


def subtree_ids(roots: Iterable[int]) -> frozenset[int]:
    """The units given and every unit below them."""
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in db.session.execute(sa.select(Unit.id, Unit.parent_id)):
        children.setdefault(parent_id, []).append(unit_id)
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        unit_id = todo.pop()
        if unit_id in seen:
            continue
        seen.add(unit_id)
        todo.extend(children.get(unit_id, ()))
    return frozenset(seen)


def scope_for_user(user: User | None) -> AdminScope | None:
    """The person's administration scope, or None when they administer nothing."""
    if user is None or not user.is_active:
        return None
    if SUPER_ROLE in (user.roles or []):
        return AdminScope(actor=user.sub, everything=True)
    roots = db.session.scalars(sa.select(UnitAdmin.unit_id).where(UnitAdmin.user_id == user.id))
    units = subtree_ids(roots)
    if not units:
        return None
    return AdminScope(actor=user.sub, unit_ids=units)


def may_act_on(scope: AdminScope, user: User) -> bool:
    """Act on a person (disable, reset, end sessions...): one of the administrator's people
    who administers no more than they do. A provincial super-administrator, or the
    administrator of a wider subtree, whose desk happens to be in a district's unit is in
    that district's people list, but out of its administrator's reach."""
    if not scope.covers_user(user):
        return False
    if scope.everything:
        return True
    if SUPER_ROLE in (user.roles or []):
        return False
    roots = db.session.scalars(sa.select(UnitAdmin.unit_id).where(UnitAdmin.user_id == user.id))
    return all(scope.covers_unit(unit_id) for unit_id in roots)


def token_allows(token_scopes: Iterable[str], needed: str) -> bool:
    """Whether a token with `token_scopes` may call an operation that needs `needed`
    (ADMIN_READ or ADMIN_WRITE): admin:write covers reading too."""
    scopes = set(token_scopes)
    if needed == ADMIN_READ:
        return bool(scopes & {ADMIN_READ, ADMIN_WRITE})
    return needed in scopes


def is_automation_client(client: Client) -> bool:
    """A client whose client_credentials tokens act as a super-administrator."""
    return client.active and client.meta(AUTOMATION_FIELD) is True


def scope_for_token(user: User | None, client: Client, *, for_person: bool) -> AdminScope | None:
    """What a token may act on: its person's scope (read now), or for a client_credentials
    token, everything when its client is marked for admin automation; None otherwise."""
    if for_person:
        return scope_for_user(user)
    if is_automation_client(client):
        return AdminScope(actor=client.client_id, everything=True)
    return None


def administered_units(user: User) -> list[Unit]:
    """The units a person was made administrator of (the roots of their scope)."""
    return list(
        db.session.scalars(
            sa.select(Unit)
            .join(UnitAdmin, UnitAdmin.unit_id == Unit.id)
            .where(UnitAdmin.user_id == user.id)
            .order_by(Unit.code)
        )
    )


def grant_unit(user: User, unit: Unit, *, actor: str, origin: dict | None = None) -> bool:
    """Make a person administrator of a unit's subtree; False when they already were."""
    exists = db.session.scalar(
        sa.select(UnitAdmin.id).where(UnitAdmin.user_id == user.id, UnitAdmin.unit_id == unit.id)
    )
    if exists is not None:
        return False
    db.session.add(UnitAdmin(user_id=user.id, unit_id=unit.id, granted_by=actor))
    audit.record(
        "admin.grant",
        actor=actor,
        subject=user.sub,
        detail={"unit": unit.code},
        **(origin or {}),
    )
    return True


def revoke_unit(user: User, unit: Unit, *, actor: str, origin: dict | None = None) -> bool:
    row = db.session.scalar(
        sa.select(UnitAdmin).where(UnitAdmin.user_id == user.id, UnitAdmin.unit_id == unit.id)
    )
    if row is None:
        return False
    db.session.delete(row)
    audit.record(
        "admin.revoke",
        actor=actor,
        subject=user.sub,
        detail={"unit": unit.code},
        **(origin or {}),
    )
    return True


def move_grants(source: Unit, target: Unit) -> None:
    """A merge of `source` into `target`: its administrators administer `target` instead."""
    for row in db.session.scalars(sa.select(UnitAdmin).where(UnitAdmin.unit_id == source.id)):
        duplicate = db.session.scalar(
            sa.select(UnitAdmin.id).where(
                UnitAdmin.user_id == row.user_id, UnitAdmin.unit_id == target.id
            )
        )
        if duplicate is None:
            row.unit_id = target.id
        else:
            db.session.delete(row)


def would_lose_last_path(user: User, unit: Unit, *, actor: str) -> bool:
    """Revoking `unit` from `user` would leave the acting administrator (`actor` is their
    own sub) without any way into the console: refused, so nobody locks themselves out."""
    if user.sub != actor or SUPER_ROLE in (user.roles or []):
        return False
    others = db.session.scalar(
        sa.select(sa.func.count(UnitAdmin.id)).where(
            UnitAdmin.user_id == user.id, UnitAdmin.unit_id != unit.id
        )
    )
    return not others


def record_denied(actor: str, what: str, origin: dict | None = None) -> None:
    """An attempt outside one's scope (or with none): an audit event, committed by the caller."""
    audit.record(
        "admin.denied",
        actor=actor,
        subject=what[:320],
        outcome="failure",
        **(origin or {}),
    )


# -- units (the console's Units page and the admin API ask here) ----------------------------


def may_change_unit(scope: AdminScope, unit: Unit) -> bool:
    """Rename or deactivate a unit: one of the administrator's units."""
    return scope.covers_unit(unit.id)


def may_move_unit(scope: AdminScope, unit: Unit, parent: Unit | None) -> bool:
    """Put a unit under `parent` (None: the top of the tree, for a super-administrator
    only): both inside the administrator's units, so nothing leaves their subtree."""
    if parent is None:
        return scope.is_super
    return scope.covers_unit(unit.id) and scope.covers_unit(parent.id)


def may_merge_units(scope: AdminScope, source: Unit, target: Unit) -> bool:
    """Merge `source` into `target`: both inside the administrator's units (a district's
    people never go to another district by its administrator's hand). The merge moves
    `source`'s own administrators to `target` (move_grants): for a unit administrator, only
    when that widens nobody's scope, as making administrators is the super-administrators'."""
    if not (scope.covers_unit(source.id) and scope.covers_unit(target.id)):
        return False
    return scope.everything or not _merge_widens_someone(source, target)


def _merge_widens_someone(source: Unit, target: Unit) -> bool:
    """Whether one of `source`'s administrators does not already administer `target`."""
    holders = db.session.scalars(sa.select(UnitAdmin.user_id).where(UnitAdmin.unit_id == source.id))
    for user_id in set(holders):
        roots = db.session.scalars(sa.select(UnitAdmin.unit_id).where(UnitAdmin.user_id == user_id))
        if target.id not in subtree_ids(roots):
            return True
    return False


def administering(user_ids: Collection[int]) -> set[int]:
    """Which of these accounts administer a unit (idp.directory.guards: privileged)."""
    rows = db.session.scalars(
        sa.select(UnitAdmin.user_id).where(UnitAdmin.user_id.in_(list(user_ids))).distinct()
    )
    return set(rows)
