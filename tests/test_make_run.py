"""`make run`, the README's first command: migrates, seeds the demo directory, serves the
provider with its logout worker on HOST:PORT, and Ctrl-C stops both.

Run as a person runs it, with make, on a free port and a fresh SQLite file. It uses the
project's .venv as `make test` leaves it (the install step of `make run` has nothing to
do then).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from helpers.live import ROOT, free_port, wait_until

STAMP = ROOT / ".venv" / ".installed"


@pytest.fixture
def installed() -> None:
    projects = (ROOT / "pyproject.toml", ROOT / "demo" / "pyproject.toml")
    if not STAMP.exists() or any(STAMP.stat().st_mtime < p.stat().st_mtime for p in projects):
        pytest.skip("the project's .venv is not installed (`make test` installs it)")


def discovery(base: str) -> dict | None:
    try:
        answer = requests.get(f"{base}/.well-known/openid-configuration", timeout=2)
    except requests.RequestException:
        return None
    return answer.json() if answer.status_code == 200 else None


def test_make_run_serves_the_issuer_of_its_port_and_stops_on_ctrl_c(installed, tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("IDP_", "MAKE"))}
    env["IDP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        config = wait_until(lambda: discovery(base) or make.poll() is not None, seconds=120)
        assert isinstance(config, dict), f"make run ended: {make.stdout.read().decode()[-2000:]}"
        # The issuer, and every endpoint in the document, follow the port it serves on.
        assert config["issuer"] == base
        assert config["token_endpoint"].startswith(base + "/")
        # The demo directory is loaded: the sign-in page answers in Vietnamese.
        page = requests.get(f"{base}/login", timeout=5)
        assert page.status_code == 200 and "Đăng nhập" in page.text
        # No SMTP server: e-mail is kept in the dev mailbox, and `make run` says where.
        assert requests.get(f"{base}/dev/mail", timeout=5).status_code == 200
    finally:
        # Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
        os.killpg(make.pid, signal.SIGINT)
        try:
            output = make.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            output = None
        # The server runs in a session of its own: whatever is left of it is found by its
        # port, reported, then stopped.
        left = subprocess.run(
            ["pgrep", "-f", "--", f"--port {port} "], capture_output=True, text=True
        ).stdout.split()
        for pid in left:
            os.kill(int(pid), signal.SIGKILL)
    assert output is not None, "make run did not end within 60 s of Ctrl-C"
    assert not left, f"processes left after Ctrl-C: {left}"
    assert discovery(base) is None, "the server still answers after Ctrl-C"
    assert "worker stopped" in output
    # The stop was asked for and went cleanly: the recipe exits 0, so make reports no error
    # ("make: *** [Makefile:..: run] Error 130" before).
    assert "Stopped." in output
    assert "make: ***" not in output and "Error 130" not in output, output[-2000:]
    # It says where the console is, and who may sign in to it.
    assert f"Console: {base}/admin/" in output
    assert "admin@haugiang.gov.vn" in output
    assert f"read it in the dev mailbox, {base}/dev/mail" in output
