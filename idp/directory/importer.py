"""Directory import: units (here) and users (user_import.py) from CSV rows, idempotent.

Both imports follow the same steps: load what is stored once into dictionaries; match every
row with it in memory (no query per row); plan, in a plan object, what to create, update and
disable; then apply the plan: only the differences, with a few bulk statements, and one
summary audit event. A row that cannot be used is rejected with its line number and reason and
never stops the others. The summary's counts come from the plan; a dry run stops before
applying it.

Units are matched by `code`. A column missing from the header leaves that field of existing
records as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from idp import audit
from idp.directory import records
from idp.directory.csvfile import CsvTable, Rejection
from idp.directory.fields import (
    FieldError,
    clean,
    parse_bool,
    parse_unit_code,
    parse_unit_name,
)
from idp.directory.kinds import configured_names, kind_of
from idp.errors import Conflict
from idp.extensions import utcnow

UNIT_COLUMNS = ("code", "name", "kind", "parent_code", "active")
UNIT_REQUIRED = (("code",), ("name",))

Progress = Callable[[int], None]
PROGRESS_STEP = 200


class ImportConflict(Conflict):
    """The database refused the write (someone changed the directory meanwhile)."""


class ImportPlan(Protocol):
    """What an import will write, decided before anything is; `apply()` writes it."""

    @property
    def created(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def disabled(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    def apply(self) -> None: ...


@dataclass
class ImportSummary:
    kind: str
    source: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    disabled: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # Rows imported with a doubt (an unknown unit kind taken as "other"): line and reason.
    warnings: list[Rejection] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append(Rejection(line, reason))

    def warn(self, line: int, reason: str) -> None:
        self.warnings.append(Rejection(line, reason))

    def count(self, plan: ImportPlan) -> None:
        """What the plan creates, updates, disables and leaves as it is."""
        self.created = plan.created
        self.updated = plan.updated
        self.disabled = plan.disabled
        self.unchanged = plan.unchanged

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "disabled": self.disabled,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "dry_run": self.dry_run,
            **self.counts(),
            "changed": self.changed,
            "rejections": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "ignored_columns": self.ignored_columns,
            "warnings": [{"line": w.line, "reason": w.reason} for w in self.warnings],
        }


class Ticker:
    """Reports progress every PROGRESS_STEP rows, so a terminal bar is not redrawn per row."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.pending = progress, 0

    def tick(self) -> None:
        self.pending += 1
        if self.pending >= PROGRESS_STEP:
            self.flush()

    def flush(self) -> None:
        if self.progress and self.pending:
            self.progress(self.pending)
        self.pending = 0


def start(kind: str, table: CsvTable, dry_run: bool) -> ImportSummary:
    summary = ImportSummary(
        kind=kind,
        source=table.source,
        dry_run=dry_run,
        rows=len(table.rows) + len(table.rejected),
        ignored_columns=list(table.ignored_columns),
    )
    summary.rejected.extend(table.rejected)
    return summary


def finish(summary: ImportSummary, actor: str, plan: ImportPlan) -> ImportSummary:
    """Count the plan into the summary; unless a dry run, apply it (the command commits)."""
    summary.count(plan)
    summary.rejected.sort(key=lambda r: r.line)
    if summary.dry_run:
        records.rollback()
        return summary
    try:
        plan.apply()
        audit.record(
            f"{summary.kind}.import",
            actor=actor,
            subject=os.path.basename(summary.source)[:320] or None,
            outcome="success" if not summary.rejected else "partial",
            detail={
                **summary.counts(),
                "source": summary.source,
                **({"warnings": len(summary.warnings)} if summary.warnings else {}),
            },
        )
        records.flush()  # the database's refusal, if any, is seen here; the command commits
    except sa.exc.SQLAlchemyError as exc:
        records.rollback()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        raise ImportConflict(
            f"the database refused the import, nothing was written ({reason}); run it again"
        ) from exc
    return summary


# -- units ---------------------------------------------------------------------------------


def _parse_unit_row(
    row: dict[str, str], columns: set[str], kind_names: dict[str, str]
) -> dict[str, Any]:
    """The row's values; an unknown kind is "other", its warning under "kind_warning"."""
    values: dict[str, Any] = {"name": parse_unit_name(row.get("name"))}
    if "kind" in columns:
        values["kind"], warning = kind_of(row["kind"], kind_names)
        if warning:
            values["kind_warning"] = warning
    if "parent_code" in columns:
        parent = clean(row["parent_code"])
        values["parent"] = parse_unit_code(parent, "parent unit code") if parent else None
    if "active" in columns:
        values["active"] = parse_bool(row["active"], "active")
    return values


def _find_cycle(start: str, parent_of: dict[str, str | None]) -> list[str] | None:
    path, node = [], start
    seen: set[str] = set()
    while node is not None and node not in seen:
        seen.add(node)
        path.append(node)
        node = parent_of.get(node)
    if node == start:
        return path
    return None


def import_units(
    table: CsvTable, *, actor: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportSummary:
    """Create or update units from rows with the UNIT_COLUMNS; parents may come in any order."""
    summary = start("units", table, dry_run)
    stored = StoredUnits.load()
    wanted = match_units(table, summary, Ticker(progress))
    reject_bad_parents(wanted, stored, summary)
    plan = plan_units(wanted, stored, utcnow())
    return finish(summary, actor, plan)


# What each accepted row asks for, by unit code: (line, values of _parse_unit_row).
Wanted = dict[str, tuple[int, dict[str, Any]]]


@dataclass
class StoredUnits:
    """The units as stored, by code, and the code of each one's parent."""

    units: dict[str, records.UnitRecord]
    parent: dict[str, str | None]

    @classmethod
    def load(cls) -> StoredUnits:
        units = {u.code: u for u in records.load_units()}
        code_of = {u.id: u.code for u in units.values()}
        return cls(units, {u.code: code_of.get(u.parent_id) for u in units.values()})


def match_units(table: CsvTable, summary: ImportSummary, ticker: Ticker) -> Wanted:
    """The rows that can be used, by code; the others are rejected in the summary."""
    columns = set(table.columns)
    names = configured_names()
    wanted: Wanted = {}
    line_of: dict[str, int] = {}
    for line, row in table.rows:
        ticker.tick()
        try:
            code = parse_unit_code(row.get("code"))
            if code in line_of:
                raise FieldError(f"duplicate in file: unit {code} is also on line {line_of[code]}")
            line_of[code] = line
            values = _parse_unit_row(row, columns, names)
        except FieldError as exc:
            summary.reject(line, str(exc))
            continue
        if "kind_warning" in values:
            summary.warn(line, f"unit {code}: {values.pop('kind_warning')}")
        if values.get("parent") == code:
            summary.reject(line, f"unit {code} cannot be its own parent")
            continue
        wanted[code] = (line, values)
    ticker.flush()
    return wanted


def reject_bad_parents(wanted: Wanted, stored: StoredUnits, summary: ImportSummary) -> None:
    """Take out of `wanted` the units whose parent is unknown or closes a cycle.

    Parents are resolved over the stored tree overlaid with the file, until nothing changes:
    rejecting a row puts its stored parent back, which can expose another problem.
    """
    rejected_at: dict[str, int] = {}
    while True:
        parent_of = dict(stored.parent)
        parent_of.update({c: v["parent"] for c, (_, v) in wanted.items() if "parent" in v})
        problems = _unknown_parents(wanted, parent_of, set(stored.units), rejected_at)
        if not problems:
            problems = _first_cycle(wanted, parent_of)
        if not problems:
            return
        for code, reason in problems.items():
            line = wanted.pop(code)[0]
            rejected_at[code] = line
            summary.reject(line, reason)


def _unknown_parents(
    wanted: Wanted,
    parent_of: dict[str, str | None],
    stored_codes: set[str],
    rejected_at: dict[str, int],
) -> dict[str, str]:
    known = stored_codes | set(wanted)
    problems: dict[str, str] = {}
    for code in wanted:
        parent = parent_of.get(code)
        if parent is not None and parent not in known:
            if parent in rejected_at:
                problems[code] = f"parent unit {parent} was rejected (line {rejected_at[parent]})"
            else:
                problems[code] = f"unknown parent unit {parent}"
    return problems


def _first_cycle(wanted: Wanted, parent_of: dict[str, str | None]) -> dict[str, str]:
    for code in wanted:
        cycle = _find_cycle(code, parent_of)
        if cycle:
            text = " → ".join([*cycle, code])
            return {c: f"cycle in the unit tree: {text}" for c in cycle if c in wanted}
    return {}


@dataclass
class UnitPlan:
    """What an import of units will write: new units, then changes to stored ones."""

    now: datetime
    # Ids of the stored units, by code (created units get theirs when applied).
    ids: dict[str, int]
    # Rows for records.insert_units; their parents are linked once they have ids.
    new_units: list[dict[str, Any]] = field(default_factory=list)
    new_parents: dict[str, str] = field(default_factory=dict)
    # Stored units to change, in the order of the file: (code, target state).
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Codes of the changed units that the import disables.
    disabled_codes: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def created(self) -> int:
        return len(self.new_units)

    @property
    def updated(self) -> int:
        return len(self.changes) - len(self.disabled_codes)

    @property
    def disabled(self) -> int:
        return len(self.disabled_codes)

    def create(self, code: str, values: dict[str, Any]) -> None:
        self.new_units.append(
            {
                "code": code,
                "name": values["name"],
                "kind": values.get("kind", "other"),
                "active": values.get("active", True),
                "parent_id": None,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        if values.get("parent"):
            self.new_parents[code] = values["parent"]

    def change(self, code: str, current: records.UnitRecord, target: dict[str, Any]) -> None:
        if current.active and not target["active"]:
            self.disabled_codes.append(code)
        self.changes.append((code, target))

    def apply(self) -> None:
        ids = dict(self.ids)
        ids.update(records.insert_units(self.new_units))
        records.update_units(
            [{"id": ids[c], "parent_id": ids[p]} for c, p in self.new_parents.items()]
        )
        records.update_units(
            [
                {
                    "id": ids[code],
                    "name": t["name"],
                    "kind": t["kind"],
                    "active": t["active"],
                    "parent_id": ids[t["parent"]] if t["parent"] else None,
                    "updated_at": self.now,
                }
                for code, t in self.changes
            ]
        )


def plan_units(wanted: Wanted, stored: StoredUnits, now: datetime) -> UnitPlan:
    """Compare each wanted unit with the stored one: create, change, or leave it."""
    plan = UnitPlan(now=now, ids={code: u.id for code, u in stored.units.items()})
    for code, (_, values) in wanted.items():
        current = stored.units.get(code)
        if current is None:
            plan.create(code, values)
            continue
        target = {
            "name": values["name"],
            "kind": values.get("kind", current.kind),
            "parent": values["parent"] if "parent" in values else stored.parent[code],
            "active": values.get("active", current.active),
        }
        now_state = {
            "name": current.name,
            "kind": current.kind,
            "parent": stored.parent[code],
            "active": current.active,
        }
        if target == now_state:
            plan.unchanged += 1
        else:
            plan.change(code, current, target)
    return plan
