"""`idp cleanup`: remove expired codes, grants, refresh tokens, revocations and spent tokens."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from idp.cli import emit_json
from idp.oidc import initial_access, store


@click.command("cleanup")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def cleanup_command(as_json: bool) -> None:
    """Delete expired codes, grants, refresh tokens, revocations, used client assertion
    ids and spent initial access tokens. Safe at any time (e.g. hourly from cron); the
    provider also does it now and then on its own."""
    counts = store.remove_expired()
    counts["initial_access_tokens"] = initial_access.remove_spent_tokens()
    store.commit()
    if as_json:
        emit_json(counts)
        return
    for name, count in counts.items():
        click.echo(f"{name.replace('_', ' '):<24}{count:>8} removed")


def init_app(app: Flask) -> None:
    app.cli.add_command(cleanup_command)
