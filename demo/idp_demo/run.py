"""`idp demo run` (what `make demo` starts): the provider, its logout worker and two sample
relying parties, so single sign-on and single sign-out can be watched in a browser.

1. The two demo clients are registered from their manifests in clients/ (webmail and
   document management), with known demo secrets unless RP_<NAME>_CLIENT_SECRET is set.
2. `idp serve` (the provider at ISSUER), `idp worker` (back-channel logout deliveries) and
   two instances of clients/demo-rp (Node.js, openid-client) at the manifests' URLs start
   as child processes, each in its own process group.
3. Once all answer, the URLs and the demo account are printed; Ctrl-C (or SIGTERM) stops
   every child, and the command ends when they are gone.

Development only: it refuses to run with ENV=production.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.clients import manifests
from idp.clients.cli import apply_directory, cli_policy
from idp.commands import CliError, cli_actor
from idp.extensions import db
from idp.keys.ring import ensure_keys
from idp_demo.directory import DEMO_ACCOUNTS

# The checkout this package lives in (demo/idp_demo/run.py): its clients/ folder holds the
# manifests and the sample relying party.
ROOT = Path(__file__).resolve().parents[2]
CLIENTS_DIR = ROOT / "clients"
DEMO_RP_DIR = CLIENTS_DIR / "demo-rp"
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class DemoRP:
    """A sample relying party: which manifest registers it and where it listens."""

    manifest: str
    url_env: str
    default_url: str
    secret_env: str
    # Published on purpose: these clients exist only on a developer's machine.
    demo_secret: str


DEMO_RPS = (
    DemoRP(
        "webmail.toml",
        "RP_WEBMAIL_URL",
        "http://127.0.0.1:8101",
        "RP_WEBMAIL_CLIENT_SECRET",
        "demo-webmail-secret-for-make-demo-only-0001",
    ),
    DemoRP(
        "quan-ly-van-ban.toml",
        "RP_QLVB_URL",
        "http://127.0.0.1:8104",
        "RP_QLVB_CLIENT_SECRET",
        "demo-qlvb-secret-for-make-demo-only-000002",
    ),
)


@dataclass
class Child:
    name: str
    url: str
    process: subprocess.Popen


def demo_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the manifests and the children: demo secrets where none is set."""
    environ = dict(base)
    for rp in DEMO_RPS:
        if not environ.get(rp.secret_env):
            environ[rp.secret_env] = rp.demo_secret
    return environ


def register_clients(environ: Mapping[str, str]) -> list[dict[str, str]]:
    """Apply the demo manifests; returns each client's settings for its relying party."""
    found = []
    for rp in DEMO_RPS:
        path = CLIENTS_DIR / rp.manifest
        report = apply_directory(path, cli_policy(), actor=cli_actor(), environ=environ)
        for result in report.results:
            if result.status == "error":
                raise CliError(f"{rp.manifest}: {result.message}")
            click.echo(f"  {result.status:<9} {result.client_id} ({rp.manifest})")
        manifest = manifests.load_manifest(path, environ)
        url = environ.get(rp.url_env) or rp.default_url
        found.append(
            {
                "CLIENT_ID": manifest["client_id"],
                "CLIENT_SECRET": environ[rp.secret_env],
                "BASE_URL": url.rstrip("/"),
                "PORT": str(urlsplit(url).port or 80),
                "TITLE": manifest.get("client_name", manifest["client_id"]),
                "TITLE_EN": manifest.get("client_name#en", ""),
            }
        )
    return found


def install_demo_rp() -> None:
    """`npm ci` once, from package-lock.json, when node_modules is missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        raise CliError(
            "the demo relying parties need Node.js 20+ and npm (apt-get install nodejs npm)"
        )
    if (DEMO_RP_DIR / "node_modules" / "openid-client").is_dir():
        return
    click.echo("Installing the demo relying party's packages (npm ci) ...")
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],  # noqa: S607  (npm from PATH, by design)
        cwd=DEMO_RP_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CliError(f"npm ci failed in {DEMO_RP_DIR}: {result.stderr.strip()[-500:]}")


def start(name: str, url: str, args: list[str], env: Mapping[str, str], cwd: Path) -> Child:
    # Own process group: Ctrl-C reaches this command only, which then stops each child
    # (and, through the group, the server's worker processes) in order.
    process = subprocess.Popen(args, cwd=cwd, env=dict(env), start_new_session=True)  # noqa: S603
    return Child(name, url, process)


def _signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)


def stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.process.wait()
        # Any process the child left behind in its group goes too.
        _signal_group(child, signal.SIGKILL)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (our own http URLs)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(children: list[Child], probes: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    waiting = dict(probes)
    while waiting:
        for child in children:
            if child.process.poll() is not None:
                raise CliError(f"{child.name} exited with status {child.process.returncode}")
        for name, url in list(waiting.items()):
            if answers(url):
                del waiting[name]
        if time.monotonic() > deadline:
            raise CliError(f"not ready after {READY_TIMEOUT_SECONDS} s: {', '.join(waiting)}")
        if waiting:
            time.sleep(0.2)


def print_banner(issuer: str, relying_parties: list[dict[str, str]]) -> None:
    account = next(a for a in DEMO_ACCOUNTS if "admin" not in a.roles)
    click.echo("")
    click.echo("Bản demo đăng nhập một lần đang chạy / The single sign-on demo is running:")
    click.echo(f"  Hệ thống đăng nhập (identity provider)  {issuer}/")
    click.echo(f"    Phiên đăng nhập của bạn (your sessions) {issuer}/account/")
    for rp in relying_parties:
        title = rp["TITLE"] + (f" ({rp['TITLE_EN']})" if rp["TITLE_EN"] else "")
        click.echo(f"  {title:<60} {rp['BASE_URL']}/")
    click.echo(
        f"Tài khoản demo / demo account: {account.email}  mật khẩu / password: {account.password}"
    )
    click.echo("Mở ứng dụng thứ nhất, đăng nhập; mở ứng dụng thứ hai: không cần mật khẩu.")
    click.echo("Đăng xuất ở một ứng dụng: ứng dụng kia cũng đăng xuất (docs/demo.md).")
    click.echo("Open the first app and sign in; the second needs no password; sign out of")
    click.echo("one and the other is signed out too (docs/demo.md). Ctrl-C stops everything.")


class Stop(Exception):
    """Ctrl-C (SIGINT) or SIGTERM: stop every child."""


def _on_signal(_signum: int, _frame: object) -> None:
    raise Stop


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the provider listens.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16))
@with_appcontext
def demo_run_command(host: str, workers: int) -> None:
    """Start the provider, its worker and two sample relying parties; Ctrl-C stops them.

    The provider listens on the port of ISSUER (IDP_ISSUER; default 5000); the relying
    parties at RP_WEBMAIL_URL and RP_QLVB_URL (default 127.0.0.1:8101 and :8104).
    """
    config = current_app.config
    if config["ENV"] == "production":
        raise CliError("idp demo run is for development only (IDP_ENV is production)")
    issuer = config["ISSUER"].rstrip("/")
    port = urlsplit(issuer).port or 80
    install_demo_rp()
    environ = demo_environment(os.environ)

    click.echo("Registering the demo relying parties (clients/):")
    relying_parties = register_clients(environ)
    # Keys before the servers start, so that no two processes race to make the first ones.
    if ensure_keys():
        db.session.commit()
    db.session.remove()

    python = [sys.executable, "-m", "idp.cli"]
    children: list[Child] = []
    # Own handlers: SIGINT may arrive ignored from a parent that runs us in the background.
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        children.append(
            start(
                "idp serve",
                issuer,
                [*python, "serve", "--host", host, "--port", str(port), "--workers", str(workers)],
                environ,
                Path.cwd(),
            )
        )
        if "worker" in current_app.cli.commands:
            children.append(start("idp worker", "", [*python, "worker"], environ, Path.cwd()))
        for rp in relying_parties:
            env = {**environ, **rp, "ISSUER": config["ISSUER"], "HOST": "127.0.0.1"}
            children.append(
                start(
                    f"demo-rp {rp['CLIENT_ID']}",
                    rp["BASE_URL"],
                    ["node", "server.mjs"],
                    env,
                    DEMO_RP_DIR,
                )
            )
        probes = {"idp serve": issuer + "/.well-known/openid-configuration"}
        probes.update(
            {
                f"demo-rp {rp['CLIENT_ID']}": rp["BASE_URL"] + "/api/session"
                for rp in relying_parties
            }
        )
        wait_ready(children, probes)
        print_banner(issuer, relying_parties)
        while True:
            for child in children:
                if child.process.poll() is not None:
                    raise CliError(f"{child.name} exited with status {child.process.returncode}")
            time.sleep(0.5)
    except Stop:
        click.echo("\nStopping / Đang dừng ...")
    finally:
        # A second Ctrl-C while stopping must not leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Stopped / Đã dừng.")
