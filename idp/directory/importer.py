"""Directory import: units (here) and users (user_import.py) from CSV rows, idempotent.

Both imports follow the same plan: load what is stored once into dictionaries, compare every
row with it in memory (no query per row), then write only the differences with a few bulk
statements and one summary audit event. A row that cannot be used is rejected with its line
number and reason and never stops the others; a dry run stops before writing.

Units are matched by `code`. A column missing from the header leaves that field of existing
records as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from idp import audit
from idp.directory import records
from idp.directory.csvfile import CsvTable, Rejection
from idp.directory.fields import (
    FieldError,
    clean,
    parse_bool,
    parse_unit_code,
    parse_unit_kind,
    parse_unit_name,
)
from idp.errors import Conflict
from idp.extensions import utcnow

UNIT_COLUMNS = ("code", "name", "kind", "parent_code", "active")
UNIT_REQUIRED = (("code",), ("name",))

Progress = Callable[[int], None]
PROGRESS_STEP = 200


class ImportConflict(Conflict):
    """The database refused the write (someone changed the directory meanwhile)."""


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

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append(Rejection(line, reason))

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


def finish(summary: ImportSummary, actor: str, write: Callable[[], None]) -> ImportSummary:
    summary.rejected.sort(key=lambda r: r.line)
    if summary.dry_run:
        records.rollback()
        return summary
    try:
        write()
        audit.record(
            f"{summary.kind}.import",
            actor=actor,
            subject=os.path.basename(summary.source)[:320] or None,
            outcome="success" if not summary.rejected else "partial",
            detail={**summary.counts(), "source": summary.source},
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


def _parse_unit_row(row: dict[str, str], columns: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": parse_unit_name(row.get("name"))}
    if "kind" in columns:
        values["kind"] = parse_unit_kind(row["kind"])
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
    existing = {u.code: u for u in records.load_units()}
    code_of = {u.id: u.code for u in existing.values()}
    stored_parent = {u.code: code_of.get(u.parent_id) for u in existing.values()}
    columns = set(table.columns)
    ticker = Ticker(progress)

    wanted: dict[str, tuple[int, dict[str, Any]]] = {}
    line_of: dict[str, int] = {}
    for line, row in table.rows:
        ticker.tick()
        try:
            code = parse_unit_code(row.get("code"))
            if code in line_of:
                raise FieldError(f"duplicate in file: unit {code} is also on line {line_of[code]}")
            line_of[code] = line
            values = _parse_unit_row(row, columns)
        except FieldError as exc:
            summary.reject(line, str(exc))
            continue
        if values.get("parent") == code:
            summary.reject(line, f"unit {code} cannot be its own parent")
            continue
        wanted[code] = (line, values)
    ticker.flush()

    # Resolve parents over the stored tree overlaid with the file, until nothing changes:
    # rejecting a row puts its stored parent back, which can expose another problem.
    rejected_at: dict[str, int] = {}
    while True:
        parent_of = dict(stored_parent)
        parent_of.update({c: v["parent"] for c, (_, v) in wanted.items() if "parent" in v})
        known = set(existing) | set(wanted)
        problems: dict[str, str] = {}
        for code in wanted:
            parent = parent_of.get(code)
            if parent is not None and parent not in known:
                if parent in rejected_at:
                    problems[code] = (
                        f"parent unit {parent} was rejected (line {rejected_at[parent]})"
                    )
                else:
                    problems[code] = f"unknown parent unit {parent}"
        if not problems:
            for code in wanted:
                cycle = _find_cycle(code, parent_of)
                if cycle:
                    text = " → ".join([*cycle, code])
                    problems.update(
                        {c: f"cycle in the unit tree: {text}" for c in cycle if c in wanted}
                    )
                    break
        if not problems:
            break
        for code, reason in problems.items():
            line = wanted.pop(code)[0]
            rejected_at[code] = line
            summary.reject(line, reason)

    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    new_parents: dict[str, str] = {}
    changes: list[tuple[str, dict[str, Any]]] = []
    for code, (_, values) in wanted.items():
        current = existing.get(code)
        if current is None:
            summary.created += 1
            new_rows.append(
                {
                    "code": code,
                    "name": values["name"],
                    "kind": values.get("kind", "other"),
                    "active": values.get("active", True),
                    "parent_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if values.get("parent"):
                new_parents[code] = values["parent"]
            continue
        target = {
            "name": values["name"],
            "kind": values.get("kind", current.kind),
            "parent": values["parent"] if "parent" in values else stored_parent[code],
            "active": values.get("active", current.active),
        }
        now_state = {
            "name": current.name,
            "kind": current.kind,
            "parent": stored_parent[code],
            "active": current.active,
        }
        if target == now_state:
            summary.unchanged += 1
            continue
        if current.active and not target["active"]:
            summary.disabled += 1
        else:
            summary.updated += 1
        changes.append((code, target))

    def write() -> None:
        ids = {code: u.id for code, u in existing.items()}
        ids.update(records.insert_units(new_rows))
        records.update_units([{"id": ids[c], "parent_id": ids[p]} for c, p in new_parents.items()])
        records.update_units(
            [
                {
                    "id": ids[code],
                    "name": t["name"],
                    "kind": t["kind"],
                    "active": t["active"],
                    "parent_id": ids[t["parent"]] if t["parent"] else None,
                    "updated_at": now,
                }
                for code, t in changes
            ]
        )

    return finish(summary, actor, write)
