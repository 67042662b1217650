"""What every package's commands share: clear one-line errors, JSON output, the actor
recorded in the audit log, and times in the province's zone. Core: imports no idp package,
so a package's commands do not pull in the whole application (idp.cli does).
"""

from __future__ import annotations

import json
import os
import pwd
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app


class CliError(click.ClickException):
    """A one-line error and exit status 1."""

    def format_message(self) -> str:
        return self.message


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def os_account() -> str:
    """Who runs the command: the person behind sudo (SUDO_USER), else the operating-system
    account of the process. $USER is not asked: it is unset under cron, systemd and
    `docker exec`, and anyone can set it to anything."""
    sudo_user = os.environ.get("SUDO_USER", "").strip()
    if sudo_user:
        return sudo_user
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # an account without a passwd entry (a container's arbitrary uid)
        return f"uid{uid}"


def cli_actor() -> str:
    """The audit log's actor for a command: cli:<os account>."""
    return "cli:" + os_account()


# How Vietnamese offices write a date and time, as the pages do (idp.i18n.DATETIME_FORMAT;
# not imported from there: this module imports no idp package).
DATETIME_FORMAT = "%d/%m/%Y %H:%M"


def local_time_plain(value: datetime) -> str:
    """A timestamp for command-line output: dd/MM/yyyy HH:mm in the province's time zone,
    like the pages. --json output keeps ISO 8601 for scripts."""
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(DATETIME_FORMAT)


def read_password_stdin() -> str:
    """The password from standard input (first line), so it never appears in `ps` or history."""
    data = sys.stdin.readline()
    password = data.rstrip("\r\n")
    if not password:
        raise CliError("no password given on standard input")
    return password
