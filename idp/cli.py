"""The `idp` command: Flask's CLI group (run, shell, db ...) plus our own commands.

Each package registers its commands on `app.cli` in its init_app; this module holds the
entry point, the shared helpers for clear one-line errors, and `serve`.
"""

from __future__ import annotations

import errno
import os
import socket
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from idp import create_app
from idp.directory import cli as directory_cli
from idp.settings import SettingsError


def create_cli_app() -> Flask:
    try:
        return create_app()
    except SettingsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


WORKERS_KILL_TIMEOUT_SECONDS = 5


def server_command(
    server: str,
    host: str,
    port: int,
    workers: int,
    target: str = "idp.wsgi:app",
    access_log: bool = True,
) -> list[str]:
    """The command line of the production WSGI server serving `target` (module:attribute).

    The benchmarks' calibration (bench/calibrate.py) serves a bare Flask app with the same
    command, so both are measured under one server configuration. `access_log`: gunicorn's
    line per request on standard output (granian writes none at this log level)."""
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
            # A worker that has not stopped 5 s after SIGTERM is killed: every request of
            # ours ends well within that, and a worker that gets SIGTERM while still
            # starting can otherwise miss it and keep the server from ever exiting.
            "--workers-kill-timeout",
            str(WORKERS_KILL_TIMEOUT_SECONDS),
            target,
        ]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        *(["--access-logfile", "-"] if access_log else []),
        target,
    ]


def address_in_use(host: str, port: int) -> bool:
    """Whether another program listens on host:port. granian binds with SO_REUSEPORT, so a
    second server would start on a busy port and silently share its traffic: a plain bind
    (without SO_REUSEPORT), closed at once, tells before the server starts. SO_REUSEADDR
    lets it through the TIME_WAIT connections of a server just stopped; on Linux it still
    fails while anything listens there."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # an unknown host: the server itself says so
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE  # other errors: the server reports them
    return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--server",
    type=click.Choice(["granian", "gunicorn"]),
    default="granian",
    show_default=True,
    help="The WSGI server (granian measured fastest; see docs/performance.md).",
)
def serve_command(host: str, port: int, workers: int, server: str) -> None:
    """Serve the provider with the production WSGI server."""
    if address_in_use(host, port):
        click.echo(
            f"Error: port {port} on {host} is in use: another idp serve? "
            "choose another with --port / make run PORT=...",
            err=True,
        )
        sys.exit(1)
    # The target is a module of the installed package: it is found from any directory.
    args = server_command(server, host, port, workers)
    os.execv(sys.executable, args)  # noqa: S606  (replace this process with the server)


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
    directory_cli.init_app(app)


@click.group(cls=FlaskGroup, create_app=create_cli_app, add_version_option=False)
def main() -> None:
    """Provincial single sign-on identity provider."""


if __name__ == "__main__":
    main()
