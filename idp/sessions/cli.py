"""Commands: `idp worker`, `idp sessions list|revoke`, `idp logout-deliveries list`."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import click
from flask import Flask
from flask.cli import with_appcontext

from idp.commands import CliError, cli_actor, emit_json, local_time_plain
from idp.directory.service import find_user
from idp.errors import NotFound
from idp.extensions import commit
from idp.sessions import outbox, overview, worker
from idp.sessions.logout import REASON_ADMIN, end_user_sessions
from idp.sessions.models import DELIVERY_STATUSES

log = logging.getLogger("idp.sessions.worker")


def _user(identifier: str):
    try:
        return find_user(identifier)
    except NotFound as exc:
        raise CliError(str(exc)) from None


# ---------------------------------------------------------------- idp worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (cron, tests).")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Relying parties called at the same time.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 60),
    help="Seconds between looks at an empty queue [default: WORKER_POLL_SECONDS].",
)
@with_appcontext
def worker_command(once: bool, concurrency: int, interval: float | None) -> None:
    """Deliver back-channel logout tokens from the outbox until SIGTERM or SIGINT, and run
    the periodic jobs (refreshing the keys at private_key_jwt clients' jwks_uri).

    Run one or more next to the web server (`make run` starts one). Safe to run several
    at once, on any host sharing the database.
    """
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        log.info("worker stopping (signal %d)", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if not once:
            log.info("worker started (concurrency %d)", concurrency)
        stats = worker.run(concurrency=concurrency, once=once, stop=stop, poll_seconds=interval)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(stats.statuses.items()))
        if once:
            click.echo(f"{stats.attempts} attempts: {summary or 'nothing due'}")
        else:
            # Said while a second signal (make run sends SIGTERM after Ctrl-C) is still ours.
            log.info(
                "worker stopped after %d attempts (%s)", stats.attempts, summary or "nothing due"
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------- idp sessions


@click.group("sessions")
def sessions_group() -> None:
    """A person's single sign-on sessions: list them, end them."""


def _session_json(view: overview.SessionView) -> dict:
    return {
        "sid": view.sid,
        "created_at": view.created_at.isoformat(),
        "last_seen_at": view.last_seen_at.isoformat(),
        "expires_at": view.expires_at.isoformat(),
        "remember": view.remember,
        "device": view.device,
        "ip": view.ip,
        "clients": view.app_ids,
    }


@sessions_group.command("list")
@click.option("--user", "identifier", required=True, help="E-mail address (any alias) or sub.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def sessions_list(identifier: str, as_json: bool) -> None:
    """Live sessions of a person, most recently active first, with their applications."""
    user = _user(identifier)
    views = overview.live_sessions(user.id)
    if as_json:
        sessions = [_session_json(v) for v in views]
        emit_json({"user": user.sub, "email": user.email, "sessions": sessions})
        return
    if not views:
        click.echo(f"{user.email}: no live session")
        return
    for view in views:
        click.echo(
            f"{view.sid}  since {local_time_plain(view.created_at)}  "
            f"last seen {local_time_plain(view.last_seen_at)}  {view.ip or '-'}  "
            f"{view.device or '-'}"
        )
        click.echo(f"    applications: {', '.join(view.app_ids) or '-'}")


@sessions_group.command("revoke")
@click.option("--user", "identifier", required=True, help="E-mail address (any alias) or sub.")
@click.option("--sid", help="End only this session (default: every session of the person).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def sessions_revoke(identifier: str, sid: str | None, as_json: bool) -> None:
    """End a person's sessions and sign them out of every application that used them.

    Back-channel logout tokens are sent at once (each relying party at most
    LOGOUT_TIMEOUT_SECONDS); those that fail stay queued for `idp worker`.
    """
    user = _user(identifier)
    result = end_user_sessions(user, reason=REASON_ADMIN, actor=cli_actor(), sid=sid)
    commit()
    if sid and not result.sids:
        raise CliError(f"{user.email} has no open session {sid}")
    statuses: list[str] = []
    if result.delivery_ids:
        threads = min(len(result.delivery_ids), 16)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            statuses = worker.deliver_ids(result.delivery_ids, pool=pool)
    delivered = statuses.count("delivered")
    if as_json:
        emit_json(
            {
                "user": user.sub,
                "sessions_ended": result.sids,
                "grants_revoked": result.grants_revoked,
                "notices": len(result.delivery_ids),
                "delivered": delivered,
            }
        )
        return
    click.echo(
        f"{user.email}: {len(result.sids)} session(s) ended, {result.grants_revoked} grant(s) "
        f"revoked, {len(result.delivery_ids)} back-channel logout notice(s): {delivered} "
        f"delivered, {len(result.delivery_ids) - delivered} left to the worker"
    )


# ---------------------------------------------------------------- idp logout-deliveries


@click.group("logout-deliveries")
def deliveries_group() -> None:
    """Back-channel logout notices and how their delivery went."""


@deliveries_group.command("list")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES))
@click.option("--client", "client_id", help="Only this client_id.")
@click.option("--user", "identifier", help="Only this person (e-mail address or sub).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_appcontext
def deliveries_list(
    status: str | None, client_id: str | None, identifier: str | None, limit: int, as_json: bool
) -> None:
    """The newest notices first: relying party, session, status, attempts, last error."""
    sub = _user(identifier).sub if identifier else None
    rows = outbox.list_deliveries(status=status, client_id=client_id, sub=sub, limit=limit)
    if as_json:
        emit_json(
            {
                "counts": outbox.counts_by_status(),
                "deliveries": [
                    {
                        "id": r.id,
                        "client_id": r.client_id,
                        "sub": r.sub,
                        "sid": r.sid,
                        "reason": r.reason,
                        "status": r.status,
                        "attempts": r.attempts,
                        "last_status": r.last_status,
                        "last_error": r.last_error,
                        "created_at": r.created_at.isoformat(),
                        "last_attempt_at": r.last_attempt_at and r.last_attempt_at.isoformat(),
                        "next_attempt_at": r.next_attempt_at.isoformat()
                        if r.status == "pending"
                        else None,
                        "delivered_at": r.delivered_at and r.delivered_at.isoformat(),
                    }
                    for r in rows
                ],
            }
        )
        return
    counts = outbox.counts_by_status()
    click.echo("  ".join(f"{s}: {counts.get(s, 0)}" for s in DELIVERY_STATUSES))
    for r in rows:
        when = {
            "pending": f"next {local_time_plain(r.next_attempt_at)}",
            "delivered": f"at {local_time_plain(r.delivered_at)}" if r.delivered_at else "",
        }.get(r.status, "")
        click.echo(
            f"#{r.id:<6} {r.client_id:<24} {r.status:<9} attempts {r.attempts:<3} "
            f"created {local_time_plain(r.created_at)}  {when}"
        )
        if r.last_error:
            click.echo(f"        last error: {r.last_error}")


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(sessions_group)
    app.cli.add_command(deliveries_group)
