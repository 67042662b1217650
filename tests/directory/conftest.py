"""Fixtures of the directory tests."""

from __future__ import annotations

import pytest
from helpers import csvimport


@pytest.fixture
def import_csv(app):
    """import_csv("users" | "units", text, dry_run=False, progress=None) -> ImportSummary."""

    def run(kind: str, text: str, *, dry_run: bool = False, progress=None):
        return csvimport.import_csv(app, kind, text, dry_run=dry_run, progress=progress)

    return run
