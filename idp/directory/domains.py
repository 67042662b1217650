"""A change of mail domain (`idp directory rename-domain OLD NEW [--unit CODE]`).

When the province moves a unit's mail from one domain to another (stc.haugiang.gov.vn to
haugiang.gov.vn), every person of that subtree whose primary address is in OLD gets the same
local part in NEW as primary address, and keeps the old address as an alias: both still sign
in, `sub` stays, and the `email` claim of their next token is the new address. A person
whose new address already belongs to someone else is refused and changed in nothing; the
others go ahead. One audit event per run, with the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from idp import audit
from idp.directory import records
from idp.directory.fields import FieldError, parse_email
from idp.directory.models import User, UserEmail, normalize_email
from idp.directory.store import find_unit, set_addresses
from idp.errors import NotFound, ValidationFailed
from idp.extensions import db


@dataclass
class DomainChange:
    sub: str
    old: str
    new: str


@dataclass
class DomainClash:
    sub: str
    old: str
    new: str
    reason: str


@dataclass
class DomainRename:
    """What a run changed (or, in a dry run, would change)."""

    old_domain: str
    new_domain: str
    unit: str | None
    dry_run: bool
    changed: list[DomainChange] = field(default_factory=list)
    refused: list[DomainClash] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "old_domain": self.old_domain,
            "new_domain": self.new_domain,
            "unit": self.unit,
            "dry_run": self.dry_run,
            "changed": [vars(c) for c in self.changed],
            "refused": [vars(c) for c in self.refused],
        }


def parse_domain(value: str) -> str:
    """A mail domain in lower case; ValidationFailed when it is none."""
    domain = (value or "").strip().lower().lstrip("@")
    try:
        parse_email("x@" + domain, "domain")
    except FieldError:
        raise ValidationFailed(f"bad mail domain {value!r}") from None
    return domain


def _unit_ids(unit_code: str | None) -> list[int] | None:
    if unit_code is None:
        return None
    root = find_unit(unit_code.strip())
    if root is None:
        raise NotFound(f"unknown unit {unit_code.strip()}")
    children: dict[int | None, list[int]] = {}
    for unit in records.load_units():
        children.setdefault(unit.parent_id, []).append(unit.id)
    found, todo = [], [root.id]
    while todo:
        unit_id = todo.pop()
        if unit_id not in found:
            found.append(unit_id)
            todo.extend(children.get(unit_id, ()))
    return found


def _people_in_domain(domain: str, unit_ids: list[int] | None) -> list[User]:
    query = (
        sa.select(User)
        .where(sa.func.lower(User.email).endswith("@" + domain, autoescape=True))
        .options(selectinload(User.addresses))
        .order_by(User.id)
    )
    if unit_ids is not None:
        query = query.where(User.unit_id.in_(unit_ids))
    people = db.session.scalars(query)
    return [u for u in people if normalize_email(u.email).rsplit("@", 1)[1] == domain]


def _owners(addresses: list[str]) -> dict[str, int]:
    owners: dict[str, int] = {}
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        rows = db.session.execute(
            sa.select(UserEmail.address, UserEmail.user_id).where(UserEmail.address.in_(chunk))
        )
        owners.update(dict(rows.all()))
    return owners


def rename_domain(
    old: str, new: str, *, actor: str, unit_code: str | None = None, dry_run: bool = False
) -> DomainRename:
    """Move primary addresses from OLD to NEW for everyone (or a unit's subtree), keeping
    the old ones as aliases. The caller commits (a dry run leaves nothing to commit)."""
    old_domain, new_domain = parse_domain(old), parse_domain(new)
    if old_domain == new_domain:
        raise ValidationFailed("the old and the new domain are the same")
    result = DomainRename(old_domain, new_domain, unit_code, dry_run)
    people = _people_in_domain(old_domain, _unit_ids(unit_code))
    wanted = {u.id: u.email.rsplit("@", 1)[0] + "@" + new_domain for u in people}
    owners = _owners([normalize_email(a) for a in wanted.values()])
    for user in people:
        target = wanted[user.id]
        owner = owners.get(normalize_email(target))
        if owner is not None and owner != user.id:
            result.refused.append(
                DomainClash(user.sub, user.email, target, "the new address belongs to someone else")
            )
            continue
        result.changed.append(DomainChange(user.sub, user.email, target))
        if not dry_run:
            set_addresses(user, target, [user.email, *user.aliases])
    if not dry_run:
        audit.record(
            "directory.rename_domain",
            actor=actor,
            subject=f"{old_domain} -> {new_domain}",
            outcome="success" if not result.refused else "partial",
            detail={
                "unit": unit_code,
                "changed": len(result.changed),
                "refused": len(result.refused),
                "refused_subs": [c.sub for c in result.refused[:100]],
            },
        )
        records.flush()
    return result
