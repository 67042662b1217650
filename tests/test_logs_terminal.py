"""On a terminal, the commands' output is not buried under audit lines: logs go to standard
error, and there only warnings and errors are written. Redirected, everything is."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.clients import SECRET

IDP = str(Path(sys.executable).with_name("idp"))

MANIFEST = """
client_id = "webmail"
client_name = "Thư điện tử công vụ"
redirect_uris = ["https://mail.haugiang.gov.vn/callback"]
client_secret_env = "WEBMAIL_SECRET"
"""


def _read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.5)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the other end closed (Linux answers EIO)
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def _run(args, url: str, *, terminal: bool, extra_env=None) -> tuple[str, str, int]:
    env = {**os.environ, "IDP_DATABASE_URL": url, "WEBMAIL_SECRET": SECRET, **(extra_env or {})}
    env.pop("IDP_LOG_LEVEL_TERMINAL", None)
    if not terminal:
        done = subprocess.run([IDP, *args], env=env, capture_output=True, text=True)
        return done.stdout, done.stderr, done.returncode
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [IDP, *args], env=env, stdout=subprocess.PIPE, stderr=secondary, text=True
        )
        os.close(secondary)
        stdout = process.stdout.read()
        returncode = process.wait(timeout=60)
        stderr = _read_all(primary)
    finally:
        os.close(primary)
    return stdout, stderr, returncode


def _json_lines(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "clients"
    folder.mkdir()
    (folder / "webmail.toml").write_text(MANIFEST, encoding="utf-8")
    return folder


def test_clients_apply_on_a_terminal_shows_no_audit_lines(sqlite_url, manifests):
    stdout, stderr, code = _run(["clients", "apply", str(manifests)], sqlite_url, terminal=True)
    assert code == 0, stdout + stderr
    assert "webmail" in stdout
    assert _json_lines(stdout) == [] and _json_lines(stderr) == []


def test_redirected_the_audit_lines_are_on_standard_error_only(sqlite_url, manifests):
    stdout, stderr, code = _run(["clients", "apply", str(manifests)], sqlite_url, terminal=False)
    assert code == 0, stderr
    assert _json_lines(stdout) == []
    assert "client.create" in {entry.get("event") for entry in _json_lines(stderr)}


def test_warnings_still_reach_the_terminal(app, monkeypatch):
    """The handler's level on a terminal is LOG_LEVEL_TERMINAL; the logger's stays LOG_LEVEL
    (so that records still reach any other handler)."""
    import logging

    from idp import create_app, logs

    monkeypatch.setattr(logs, "is_terminal", lambda stream: True)
    terminal_app = create_app({"DATABASE_URL": app.config["DATABASE_URL"]})
    handler = logging.getLogger("idp").handlers[0]
    assert handler.level == logging.WARNING
    assert logging.getLogger("idp").level == logging.getLevelName(terminal_app.config["LOG_LEVEL"])
