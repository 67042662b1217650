"""The provider's commands as run by the tests (Flask's CLI runner)."""

from __future__ import annotations


def one_line_error(result, code: int = 1) -> str:
    """A command that failed with `code` and one line "Error: ..." on stderr: that line."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]
