"""`idp cleanup`: remove expired codes, grants, refresh tokens and revocations."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from idp.cli import emit_json
from idp.oidc import store


@click.command("cleanup")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def cleanup_command(as_json: bool) -> None:
    """Delete authorization codes, grants, refresh tokens, revocations and used client
    assertion ids that can no longer matter. Safe to run at any time (e.g. hourly from cron);
    the provider also does it now and then on its own."""
    counts = store.remove_expired()
    store.commit()
    if as_json:
        emit_json(counts)
        return
    for name, count in counts.items():
        click.echo(f"{name.replace('_', ' '):<16}{count:>8} removed")


def init_app(app: Flask) -> None:
    app.cli.add_command(cleanup_command)
