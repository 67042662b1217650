"""The audit log's actor of a command is the operating-system account that ran it
(`cli:<account>`), or the person behind sudo; never `cli:unknown`, and never $USER."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from idp.commands import cli_actor

IDP = str(Path(sys.executable).with_name("idp"))
ACCOUNT = pwd.getpwuid(os.getuid()).pw_name


def test_actor_is_the_os_account_without_user(monkeypatch):
    monkeypatch.delenv("USER", raising=False)
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert cli_actor() == f"cli:{ACCOUNT}"


def test_user_variable_is_not_believed(monkeypatch):
    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert cli_actor() == f"cli:{ACCOUNT}"


def test_the_person_behind_sudo(monkeypatch):
    monkeypatch.setenv("SUDO_USER", "nguyenvana")
    assert cli_actor() == "cli:nguyenvana"


def test_a_command_without_user_records_the_os_account(sqlite_url):
    """As under cron or `docker exec`: no $USER at all."""
    env = {k: v for k, v in os.environ.items() if k not in ("USER", "SUDO_USER", "LOGNAME")}
    env["IDP_DATABASE_URL"] = sqlite_url
    done = subprocess.run(
        [IDP, "users", "create", "an@haugiang.gov.vn", "--name", "Nguyễn Văn An"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        actors = conn.execute(sa.text("SELECT actor FROM audit_events")).scalars().all()
    engine.dispose()
    assert actors and set(actors) == {f"cli:{ACCOUNT}"}
