"""What the tests need from the machine: skipped where it is missing, except in CI."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip the test for `reason`; with CI=true fail it instead (CI installs everything)."""
    if IN_CI:
        pytest.fail(reason + " (required in CI)")
    pytest.skip(reason)
