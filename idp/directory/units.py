"""The province's re-organisations: rename, move, merge and deactivate units.

One function per change, shared by `idp units ...`, the console's Units page and the JSON
admin API. Each adds its change and one audit event to the caller's transaction (the view or
command commits), and changes nothing when it refuses (UnitChangeRefused, whose `reason`
pages translate). People keep their `sub`, their sessions and their tokens: their unit
claims (unit_code, unit_name, unit_path) are read from the directory whenever a token,
userinfo or an ID token is made, so they follow at once. Units are never deleted: a merged
unit is deactivated and keeps its code, so the audit log and old tokens still name it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from idp import audit
from idp.directory import hooks
from idp.directory.fields import FieldError, parse_unit_name
from idp.directory.models import USER_ACTIVE, Unit, User
from idp.errors import ValidationFailed
from idp.extensions import db, utcnow


class UnitChangeRefused(ValidationFailed):
    """A change the tree does not allow; `reason` is a stable code (pages translate it),
    `values` the units it names, and the message says it in English for the command line."""

    def __init__(self, reason: str, message: str, **values: Any) -> None:
        self.reason = reason
        self.values = values
        super().__init__(message)


@dataclass(frozen=True)
class MergeResult:
    people: int
    children: int


def _origin(origin: dict[str, Any] | None) -> dict[str, Any]:
    return dict(origin or {})


def subtree_ids(unit: Unit) -> set[int]:
    """The unit and every unit below it (one query of the tree's (id, parent_id) pairs)."""
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in db.session.execute(sa.select(Unit.id, Unit.parent_id)):
        children.setdefault(parent_id, []).append(unit_id)
    found: set[int] = set()
    todo = [unit.id]
    while todo:
        unit_id = todo.pop()
        if unit_id not in found:
            found.add(unit_id)
            todo.extend(children.get(unit_id, ()))
    return found


def tree(include: Callable[[int], bool] | None = None) -> list[dict[str, Any]]:
    """The unit tree as nested nodes {"unit", "people", "children"}, ordered by code; with
    `include`, only the units it accepts (a unit whose parent is left out is a root)."""
    counts = dict(
        db.session.execute(sa.select(User.unit_id, sa.func.count()).group_by(User.unit_id)).all()
    )
    shown = [
        u
        for u in db.session.scalars(sa.select(Unit).order_by(Unit.code))
        if include is None or include(u.id)
    ]
    nodes = {u.id: {"unit": u, "people": counts.get(u.id, 0), "children": []} for u in shown}
    roots = []
    for unit in shown:  # ordered by code, so children are too
        parent = nodes.get(unit.parent_id) if unit.parent_id else None
        (parent["children"] if parent else roots).append(nodes[unit.id])
    return roots


def people_count(unit: Unit, *, active_only: bool = False) -> int:
    query = sa.select(sa.func.count()).select_from(User).where(User.unit_id == unit.id)
    if active_only:
        query = query.where(User.status == USER_ACTIVE)
    return db.session.scalar(query) or 0


def active_children(unit: Unit) -> list[Unit]:
    return list(
        db.session.scalars(
            sa.select(Unit).where(Unit.parent_id == unit.id, Unit.active).order_by(Unit.code)
        )
    )


def rename_unit(unit: Unit, name: str, *, actor: str, origin: dict[str, Any] | None = None) -> bool:
    """Give the unit a new name (its code stays); False when it already has that name."""
    try:
        new_name = parse_unit_name(name)
    except FieldError as exc:
        raise UnitChangeRefused("bad_name", str(exc)) from None
    if new_name == unit.name:
        return False
    old_name, unit.name = unit.name, new_name
    audit.record(
        "unit.rename",
        actor=actor,
        subject=unit.code,
        detail={"from": old_name, "to": new_name},
        **_origin(origin),
    )
    return True


def move_unit(
    unit: Unit, parent: Unit | None, *, actor: str, origin: dict[str, Any] | None = None
) -> bool:
    """Put the unit (and its subtree) under another parent, or at the top with None.

    Refused under itself or one of its own units (a cycle), and under an inactive unit.
    False when it already is there.
    """
    if parent is not None:
        if parent.id in subtree_ids(unit):
            raise UnitChangeRefused(
                "cycle",
                f"unit {unit.code} cannot be moved under {parent.code}: "
                f"{parent.code} is {unit.code} itself or one of its units",
                unit=unit.code,
                target=parent.code,
            )
        if not parent.active:
            raise UnitChangeRefused(
                "target_inactive",
                f"unit {parent.code} is inactive: nothing can be moved under it",
                unit=unit.code,
                target=parent.code,
            )
    new_parent_id = parent.id if parent is not None else None
    if unit.parent_id == new_parent_id:
        return False
    old_parent = unit.parent.code if unit.parent is not None else None
    unit.parent_id = new_parent_id
    unit.parent = parent
    audit.record(
        "unit.move",
        actor=actor,
        subject=unit.code,
        detail={"from": old_parent, "to": parent.code if parent is not None else None},
        **_origin(origin),
    )
    return True


def _check_merge(source: Unit, target: Unit) -> None:
    if source.id == target.id:
        raise UnitChangeRefused(
            "same_unit", f"unit {source.code} cannot be merged into itself", unit=source.code
        )
    if target.id in subtree_ids(source):
        raise UnitChangeRefused(
            "cycle",
            f"unit {source.code} cannot be merged into {target.code}, one of its own units",
            unit=source.code,
            target=target.code,
        )
    if not target.active:
        raise UnitChangeRefused(
            "target_inactive",
            f"unit {target.code} is inactive: nothing can be merged into it",
            unit=source.code,
            target=target.code,
        )


def merge_units(
    source: Unit, target: Unit, *, actor: str, origin: dict[str, Any] | None = None
) -> MergeResult:
    """Merge `source` into `target`: its people and its child units move to `target`, and
    `source` is deactivated (never deleted). Its delegated administrators follow
    (hooks.units_merged). Refused into itself, into one of its own units, or into an
    inactive unit."""
    _check_merge(source, target)
    now = utcnow()
    people = db.session.execute(
        sa.update(User)
        .where(User.unit_id == source.id)
        .values(unit_id=target.id, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    children = db.session.execute(
        sa.update(Unit)
        .where(Unit.parent_id == source.id)
        .values(parent_id=target.id, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    source.active = False
    hooks.units_merged.send(
        current_app._get_current_object(), source_id=source.id, target_id=target.id
    )
    audit.record(
        "unit.merge",
        actor=actor,
        subject=source.code,
        detail={"into": target.code, "people": people, "children": children},
        **_origin(origin),
    )
    db.session.flush()
    # The bulk updates bypassed the identity map: what was loaded is read again.
    db.session.expire_all()
    return MergeResult(people=people, children=children)


def deactivate_unit(unit: Unit, *, actor: str, origin: dict[str, Any] | None = None) -> bool:
    """Mark the unit inactive (it stays, with its code). Refused while active people or
    active units are still in it: move or merge them first. False when already inactive."""
    if not unit.active:
        return False
    people = people_count(unit, active_only=True)
    if people:
        raise UnitChangeRefused(
            "has_people",
            f"unit {unit.code} still has {people} active people: "
            "move them or merge the unit into another first",
            unit=unit.code,
            count=people,
        )
    children = active_children(unit)
    if children:
        codes = ", ".join(c.code for c in children[:5]) + (", ..." if len(children) > 5 else "")
        raise UnitChangeRefused(
            "has_children",
            f"unit {unit.code} still has {len(children)} active units ({codes}): "
            "move, merge or deactivate them first",
            unit=unit.code,
            count=len(children),
        )
    unit.active = False
    audit.record("unit.deactivate", actor=actor, subject=unit.code, **_origin(origin))
    return True
