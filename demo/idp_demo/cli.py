"""`idp demo seed`, `idp demo export` and `idp demo run`: the `demo` group that Flask adds to
the `idp` command through the `flask.commands` entry point of demo/pyproject.toml."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from idp.commands import CliError, cli_actor, emit_json
from idp.directory.cli import domain_errors
from idp_demo import directory as demo
from idp_demo.run import demo_run_command

demo_group = AppGroup("demo", help="Demo data for development.")


@demo_group.command("seed")
@click.option("--json", "as_json", is_flag=True)
def demo_seed(as_json: bool) -> None:
    """Load a demo directory shaped like the province (704 units, 9,800 accounts)."""
    with domain_errors():
        if sys.stdout.isatty() and not as_json:
            with click.progressbar(length=demo.USER_COUNT, label="Loading demo accounts") as bar:
                result = demo.seed(actor=cli_actor(), progress=bar.update)
        else:
            result = demo.seed(actor=cli_actor())
    accounts = [
        {
            "email": a.email,
            "password": a.password,
            "name": a.full_name,
            "roles": a.roles.split() if a.roles else [],
            "administers": a.administers or None,
            "password_set_now": changed,
        }
        for a, changed in result.accounts
    ]
    if as_json:
        emit_json(
            {"units": result.units.as_dict(), "users": result.users.as_dict(), "accounts": accounts}
        )
        return
    for label, summary in (("Units", result.units), ("Accounts", result.users)):
        counts = summary.counts()
        click.echo(f"{label}: " + ", ".join(f"{counts[k]} {k}" for k in counts if k != "rows"))
    if not result.units.changed and not result.users.changed:
        click.echo("Nothing changed: the demo directory was already loaded.")
    click.echo("Demo accounts (development only):")
    roles = [_role(account) for account in accounts]
    role_width = max(map(len, roles), default=0)
    email_width = max((len(account["email"]) for account in accounts), default=0)
    for role, account in zip(roles, accounts, strict=True):
        click.echo(
            f"  {role:<{role_width}}  {account['email']:<{email_width}}  "
            f"password: {account['password']}"
        )
    console = current_app.config["ISSUER"].rstrip("/") + "/admin/"
    click.echo(
        f"The console is at {console}: administrators enrol a second factor (an "
        "authenticator app) at their first sign-in (docs/admin.md)."
    )


def _role(account: dict) -> str:
    if "admin" in account["roles"]:
        return "administrator"
    if account["administers"]:
        return f"admin of {account['administers']}"
    return "civil servant"


@demo_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def demo_export(directory: Path) -> None:
    """Write the demo directory as units.csv and users.csv, to try the import commands."""
    try:
        units_path, users_path = demo.export_csv(directory)
    except OSError as exc:
        raise CliError(f"cannot write to {directory}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {units_path} and {users_path}.")


demo_group.add_command(demo_run_command)
