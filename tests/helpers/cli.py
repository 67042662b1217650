"""The provider's commands as run by the tests (Flask's CLI runner)."""

from __future__ import annotations


def one_line_error(result, code: int = 1) -> str:
    """A command that failed with `code` and one line "Error: ..." on stderr: that line."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def run_on_terminal(args: list[str], database_url: str) -> str:
    """Run the installed `idp` with `args`, its standard output a terminal (a pty), as an
    administrator types it; what it wrote there (\r\n line ends made \n)."""
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    idp = Path(sys.executable).with_name("idp")
    leader, follower = pty.openpty()
    output = b""
    try:
        process = subprocess.Popen(
            [str(idp), *args],
            env={**os.environ, "IDP_DATABASE_URL": database_url},
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
        )
        os.close(follower)
        # Read while it runs: a terminal's buffer is small, a writer waits for its reader.
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=120) == 0, output
    finally:
        os.close(leader)
    return output.decode().replace("\r\n", "\n")
