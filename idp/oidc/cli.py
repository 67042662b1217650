"""`idp cleanup`: remove what can no longer matter, and apply the retention settings."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import Flask
from flask.cli import with_appcontext

from idp import audit
from idp.clients import initial_access
from idp.commands import emit_json
from idp.directory import tokens
from idp.extensions import commit, utcnow
from idp.factors import pending
from idp.interaction import throttle
from idp.oidc import store
from idp.passkeys import service as passkeys
from idp.sessions import worker
from idp.sessions.store import remove_old_sessions

# Used and expired password links are kept this long (who asked for which, when), then go.
PASSWORD_LINK_KEEP_SECONDS = 7 * 24 * 3600


def _in_batches(remove: Callable[[], int]) -> int:
    """Call `remove` (which deletes a batch) and commit, until nothing is left."""
    total = 0
    while True:
        removed = remove()
        commit()
        total += removed
        if not removed:
            return total


@click.command("cleanup")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def cleanup_command(as_json: bool) -> None:
    """Delete expired codes, grants, refresh tokens, revocations, used client assertion
    ids, answered passkey challenges and spent initial access tokens; forgotten sign-in
    throttle counters; pending sign-ins (password given, second factor not) expired a day
    ago; password links used or expired more than a week ago; SSO sessions ended or expired
    more than SESSION_RETENTION_DAYS ago; audit events older than AUDIT_RETENTION_DAYS;
    finished logout deliveries older than
    LOGOUT_DELIVERY_KEEP_SECONDS. Safe at any time (e.g. hourly from cron); the provider
    also removes expired protocol rows now and then on its own."""
    counts = store.remove_expired()
    counts["initial_access_tokens"] = initial_access.remove_spent_tokens()
    counts["passkey_challenges"] = passkeys.remove_expired_challenges()
    commit()
    now = utcnow()
    counts["login_throttle"] = throttle.remove_forgotten(now)
    counts["pending_sign_ins"] = pending.remove_old(now)
    counts["password_links"] = tokens.remove_old_links(now, PASSWORD_LINK_KEEP_SECONDS)
    commit()
    counts["sso_sessions"] = _in_batches(lambda: remove_old_sessions(now))
    counts["audit_events"] = _in_batches(lambda: audit.remove_expired_events(now))
    counts["logout_deliveries"] = worker.cleanup(now)
    if as_json:
        emit_json(counts)
        return
    for name, count in counts.items():
        click.echo(f"{name.replace('_', ' '):<24}{count:>8} removed")


def init_app(app: Flask) -> None:
    app.cli.add_command(cleanup_command)
