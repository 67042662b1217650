"""The directory's CSV imports run in-process, and what their summaries count."""

from __future__ import annotations


def import_csv(app, kind: str, text: str, *, dry_run: bool = False, progress=None):
    """Import `text` as the `kind` ("users" or "units") CSV file; the ImportSummary."""
    from idp.directory.csvfile import parse_csv
    from idp.directory.importer import UNIT_COLUMNS, UNIT_REQUIRED, import_units
    from idp.directory.user_import import USER_COLUMNS, USER_REQUIRED, import_users
    from idp.extensions import db

    known, required, function = (
        (UNIT_COLUMNS, UNIT_REQUIRED, import_units)
        if kind == "units"
        else (USER_COLUMNS, USER_REQUIRED, import_users)
    )
    with app.test_request_context():
        table = parse_csv(text, known=known, required=required, source=f"{kind}.csv")
        summary = function(table, actor="cli:tester", dry_run=dry_run, progress=progress)
        db.session.commit()  # as the command does (idp.directory.cli.run_import)
        return summary


def counts(summary) -> tuple[int, int, int, int, int]:
    """(created, updated, disabled, unchanged, rejected) of an ImportSummary."""
    return (
        summary.created,
        summary.updated,
        summary.disabled,
        summary.unchanged,
        len(summary.rejected),
    )
