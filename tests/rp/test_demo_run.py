"""`make demo`: `idp demo seed`, then `idp demo run` starts the provider, its worker and two
sample relying parties from clients/, prints their URLs and the demo account, and stops
every one of them on Ctrl-C.

The commands run as a person runs them (subprocesses, `idp serve` with granian), on free
ports given through IDP_ISSUER, RP_WEBMAIL_URL and RP_QLVB_URL, against a copy of the
migrated SQLite database.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.live import ROOT, Browser, free_port, stop_process, wait_until

DEMO_EMAIL = "demo@haugiang.gov.vn"
DEMO_PASSWORD = "HauGiang@CongChuc2026"
DEMO_NAME = "Nguyễn Thị Minh Thư"


@dataclass
class Demo:
    process: subprocess.Popen
    issuer: str
    webmail: str
    qlvb: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def children(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "idp.cli", *args]


@pytest.fixture
def demo(demo_rp_ready, sqlite_template, tmp_path: Path) -> Iterator[Demo]:
    database = tmp_path / "idp.sqlite3"
    shutil.copy(sqlite_template, database)
    issuer = f"http://127.0.0.1:{free_port()}"
    webmail, qlvb = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IDP_", "RP_"))  # the demo's own secrets, not the caller's
    }
    env.update(
        IDP_DATABASE_URL=f"sqlite:///{database}",
        IDP_ISSUER=issuer,
        IDP_LOG_LEVEL="WARNING",
        RP_WEBMAIL_URL=webmail,
        RP_QLVB_URL=qlvb,
    )
    seeded = subprocess.run(
        cli("demo", "seed"), cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert seeded.returncode == 0, seeded.stderr
    process = subprocess.Popen(
        cli("demo", "run", "--workers", "1"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Demo(process, issuer, webmail, qlvb)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    children: list[int] = []
    try:
        wait_until(lambda: process.poll() is not None or "Ctrl-C" in running.output, seconds=60)
        children = running.children()
        yield running
    finally:
        stop_process(process, grace=20)
        for pid in children:  # should be gone already; never leave one behind
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        reader.join(5)
        if process.stdout:
            process.stdout.close()


def test_make_demo_starts_everything_shows_sso_and_sign_out_and_stops_on_ctrl_c(demo):
    assert demo.process.poll() is None, demo.output
    # What it prints: the URLs and the demo account.
    assert f"{demo.issuer}/" in demo.output
    assert f"{demo.webmail}/" in demo.output and "Thư điện tử công vụ" in demo.output
    assert f"{demo.qlvb}/" in demo.output and "Quản lý văn bản và điều hành" in demo.output
    assert DEMO_EMAIL in demo.output and DEMO_PASSWORD in demo.output
    children = demo.children()
    assert len(children) == 4  # idp serve, idp worker, two demo relying parties

    browser = Browser()
    try:
        # Sign in once at webmail ...
        page = browser.sign_in(browser.get(demo.webmail + "/login"), DEMO_EMAIL, DEMO_PASSWORD)
        assert page.url == demo.webmail + "/" and DEMO_NAME in page.text, demo.output
        assert "Sở Tài chính" in page.text
        # ... document management needs no password ...
        page = browser.get(demo.qlvb + "/login")
        assert page.url == demo.qlvb + "/" and DEMO_NAME in page.text
        assert not any("/login" in r.url and demo.issuer in r.url for r in page.history)
        # ... and signing out there signs webmail out too. Both manifests register
        # front-channel logout as well, so the provider answers its signed-out page with
        # the frames; a browser without script follows its "Tiếp tục" link.
        page = browser.sign_out_at_node_url(demo.qlvb)
        assert page.url.startswith(demo.issuer + "/oauth2/logout?")
        assert f'src="{demo.webmail}/auth/frontchannel-logout?iss=' in page.text
        page = browser.get(html.unescape(re.search(r'id="continue" href="([^"]+)"', page.text)[1]))
        assert page.url.startswith(demo.qlvb + "/?state=") and 'id="signed-out"' in page.text
        assert wait_until(
            lambda: not browser.get(demo.webmail + "/api/session").json()["signed_in"]
        ), demo.output
    finally:
        browser.close()

    # Ctrl-C: every process it started ends, and so does the command.
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(30) == 0, demo.output
    assert "Stopped" in demo.output
    assert not any(alive(pid) for pid in children)
    assert not any(listening(url) for url in (demo.issuer, demo.webmail, demo.qlvb))


def test_demo_run_refuses_production(sqlite_url):
    from idp import create_app
    from idp_demo.cli import demo_group

    app = create_app(
        {
            "ENV": "production",
            "ISSUER": "https://sso.haugiang.gov.vn",
            "SECRET_KEY": "production-like-secret-key-" + "k" * 40,
            "KEY_ENCRYPTION_KEY": "production-like-key-encryption-key-" + "e" * 40,
            "DATABASE_URL": sqlite_url,
        }
    )
    result = app.test_cli_runner().invoke(demo_group, ["run"])
    assert result.exit_code == 1
    assert "development only" in result.output
    with app.app_context():
        from idp.extensions import db

        db.engine.dispose()
