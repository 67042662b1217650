"""`idp users unlock`: the help desk ends an account's sign-in delays.

It lives here, not beside the other `idp users` commands, because the counters belong to
the sign-in (idp.interaction.throttle) and the directory knows nothing above it; it joins
the same `users` group.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from idp.commands import cli_actor, emit_json
from idp.directory import service as directory
from idp.directory.cli import domain_errors, users_group
from idp.interaction.service import unlock_account


@click.command("unlock")
@click.argument("identifier", metavar="EMAIL_OR_SUB")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_unlock(identifier: str, as_json: bool) -> None:
    """End an account's sign-in delays: its failures are forgotten on every browser.

    Those of client addresses stay (they hold back guessing at every account). Recorded in
    the audit log (login.unlock) with the operator.
    """
    with domain_errors():
        user = directory.find_user(identifier)
        cleared = unlock_account(user, cli_actor())
    if as_json:
        emit_json({"sub": user.sub, "email": user.email, **cleared})
        return
    if cleared["held_back"]:
        click.echo(f"Unlocked {user.email}: it can sign in again at once.")
    elif cleared["counters"]:
        click.echo(f"{user.email} was not held back; its failures are forgotten.")
    else:
        click.echo(f"{user.email} had no failed sign-ins to forget.")


def init_app(app: Flask) -> None:
    users_group.add_command(users_unlock)
