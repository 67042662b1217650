"""Real servers and processes on 127.0.0.1: the provider, the sample relying party, and
what it takes to start, reach and stop them.

- `LiveIdp`: the provider on a werkzeug server in a thread (its own app, its own freshly
  migrated database), optionally with `idp worker` in a subprocess delivering the
  back-channel logout outbox.
- `NodeRP`: clients/demo-rp (Node.js, openid-client) in a subprocess.
- `Browser`: a requests session whose cookie jar plays the browser, with the helpers to
  fill in the provider's sign-in form.
- `Server`: any WSGI app in a thread; `free_port`, `wait_until`, `wait_for_answer`,
  `stop_process` for subprocesses.

Everything started here is stopped by its `stop()`; the fixtures call it in `finally`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from helpers.apps import FAST_HASH
from idp.extensions import db

ROOT = Path(__file__).resolve().parents[2]
DEMO_RP_DIR = ROOT / "clients" / "demo-rp"
SECRET_KEY = "rp-tests-secret-key-that-is-long-enough-0123456789"
# The person who signs in, in every test of tests/rp.
EMAIL = "le.thi.hoa@haugiang.gov.vn"
PASSWORD = "Mật-khẩu-một-lần-2026"
NAME = "Lê Thị Hoa"
# Upper bound when waiting for something that happens in another process.
WAIT_SECONDS = 15.0

T = TypeVar("T")


class QuietHandler(WSGIRequestHandler):
    """No access log: request lines would carry id_token_hint and codes."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(probe: Callable[[], T], *, seconds: float = WAIT_SECONDS) -> T:
    """Call `probe` until it returns something true (or the time is up); its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def stop_process(process: subprocess.Popen, *, group: bool = False, grace: float = 10) -> bool:
    """SIGTERM, `grace` seconds, then SIGKILL; `group`: the whole process group. Whether it
    ended without the SIGKILL."""
    if process.poll() is not None:
        return True
    if group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.terminate()
    try:
        process.wait(grace)
        return True
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(5)
        return False


def wait_for_answer(url: str, process: subprocess.Popen, seconds: float = 30) -> requests.Response:
    """The first answer of `url` served by `process`; the test fails when none comes in
    time or the process ends (with what it wrote to a piped stderr)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return requests.get(url, timeout=5)
        except requests.RequestException:
            time.sleep(0.2)
    stderr = process.stderr.read() if process.poll() is not None and process.stderr else ""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    pytest.fail(f"{url} did not answer; exit status {process.poll()}: {stderr[-2000:]}")


def idp_serve(
    database_url: str, cwd: Path, *options: str, **popen: Any
) -> tuple[subprocess.Popen, int]:
    """`idp serve` (the production server) on a free port of 127.0.0.1, started in `cwd`
    with `options`; the process and its port."""
    port = free_port()
    env = {
        **os.environ,
        "IDP_DATABASE_URL": database_url,
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "idp.cli", "serve", "--port", str(port), *options]
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, **popen)
    return process, port


class Server:
    """A WSGI app served on 127.0.0.1 in a background thread, for a `with` block."""

    def __init__(self, wsgi_app) -> None:
        self._server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# ------------------------------------------------------------------------------ provider


class LiveIdp:
    def __init__(self, database_url: str, **settings: Any) -> None:
        from idp import create_app

        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.config = {
            "ENV": "development",
            "ISSUER": self.issuer,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "WARNING",
            **FAST_HASH,
            **settings,
        }
        self.app = create_app(self.config)
        self._server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.worker: subprocess.Popen | None = None
        self.worker_log = ""

    def start_worker(self) -> None:
        """`idp worker` as in production: a separate process sharing the database."""
        env = {**os.environ}
        for key, value in self.config.items():
            env[f"IDP_{key}"] = value if isinstance(value, str) else json.dumps(value)
        env["IDP_LOG_LEVEL"] = "INFO"
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "idp.cli", "worker", "--interval", "0.1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        if self.worker is not None:
            stop_process(self.worker)
            self.worker_log = self.worker.stderr.read() if self.worker.stderr else ""
            if self.worker.stderr:
                self.worker.stderr.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        with self.app.app_context():
            from idp.extensions import db

            db.session.remove()
            db.engine.dispose()

    def add_user(
        self,
        email: str,
        password: str,
        *,
        family: str,
        middle: str,
        given: str,
        units: tuple[tuple[str, str], ...] = (),
    ) -> str:
        """A person who can sign in; `units`: (code, name) from the root down to theirs."""
        from idp.directory.models import Unit, User
        from idp.directory.passwords import hash_password
        from idp.directory.store import set_addresses
        from idp.extensions import db

        with self.app.test_request_context():
            parent = None
            for code, name in units:
                parent = Unit(code=code, name=name, kind="department", parent=parent)
                db.session.add(parent)
            user = User(
                family_name=family,
                middle_name=middle,
                given_name=given,
                password_hash=hash_password(password),
                unit=parent,
            )
            set_addresses(user, email, [])
            db.session.add(user)
            db.session.commit()
            return user.sub

    def add_client(self, client_id: str, secret: str, metadata: dict[str, Any]) -> None:
        """Registered through the registry's own rules (idp.clients.service)."""
        from idp.clients import service as clients_service
        from idp.clients.cli import cli_policy

        with self.app.app_context():
            clients_service.create_client(
                {
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                    **metadata,
                },
                cli_policy(),
                actor="test",
                client_id=client_id,
                client_secret=secret,
                settings=clients_service.ClientSettings(first_party=True),
                source="cli",
            )
            db.session.commit()

    def sign(self, claims: dict[str, Any], *, typ: str = "logout+jwt", alg: str = "RS256") -> str:
        """A JWT signed with the provider's current key (to test what relying parties accept)."""
        from idp.keys.ring import sign_jwt

        with self.app.app_context():
            return sign_jwt(claims, alg=alg, typ=typ)


# ------------------------------------------------------------------------------ Node RP


class NodeRP:
    """clients/demo-rp on its own port, registered at the provider beforehand."""

    def __init__(self, *, issuer: str, client_id: str, secret: str, port: int, title: str) -> None:
        self.port = port
        self.client_id = client_id
        self.base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "ISSUER": issuer,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "PORT": str(port),
            "TITLE": title,
        }
        self.process = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=DEMO_RP_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not wait_until(self._answers, seconds=20):
            self.stop()
            raise RuntimeError(f"demo-rp did not start:\n{self.log()}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            return True  # exited: stop waiting, the caller reports it
        try:
            return requests.get(self.base + "/api/session", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    @property
    def redirect_uri(self) -> str:
        return self.base + "/auth/callback"

    @property
    def backchannel_logout_uri(self) -> str:
        return self.base + "/auth/backchannel-logout"

    @property
    def frontchannel_logout_uri(self) -> str:
        return self.base + "/auth/frontchannel-logout"

    def log(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        stop_process(self.process)
        self._reader.join(5)
        if self.process.stdout:
            self.process.stdout.close()


def node_available() -> str | None:
    if not shutil.which("node") or not shutil.which("npm"):
        return "node and npm are needed for the sample relying party (apt-get install nodejs npm)"
    return None


def npm_ci(directory: Path, *packages: str) -> str | None:
    """`npm ci` from package-lock.json unless `packages` are installed already; None when
    they are, else why it failed."""
    if all((directory / "node_modules" / package).is_dir() for package in packages):
        return None
    where = directory.relative_to(ROOT)
    try:
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        return f"npm ci timed out in {where} (no network?)"
    if result.returncode != 0:
        return f"npm ci failed in {where} (no network?): {result.stderr.strip()[-300:]}"
    return None


def install_demo_rp() -> str | None:
    """clients/demo-rp's packages, once; None when done, else why it failed."""
    return npm_ci(DEMO_RP_DIR, "openid-client", "jose")


# ------------------------------------------------------------------------------ browser


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}})
        elif (
            tag == "input"
            and self.forms
            and values.get("name")
            and (values.get("type") not in ("checkbox", "radio") or "checked" in values)
        ):
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")


def form_fields(html: str, action: str) -> dict[str, str]:
    """The named inputs of the page's form whose action ends with `action`."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if form["action"].split("?")[0].endswith(action):
            return dict(form["fields"])
    raise AssertionError(f"no form posting to {action} on the page")


class Browser:
    """A person's browser: one cookie jar for every site on 127.0.0.1."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.http.get(url, timeout=15, **kwargs)

    def post(self, url: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        return self.http.post(url, data=data, timeout=15, **kwargs)

    def sign_in(self, page: requests.Response, email: str, password: str) -> requests.Response:
        """On the provider's sign-in page: fill in the form and follow where it leads."""
        assert re.search(r"/login(\?|$)", page.url), f"not the sign-in page: {page.url}"
        fields = form_fields(page.text, "/login")
        fields.update(email=email, password=password)
        base = page.url.split("/login")[0]
        return self.post(base + "/login", data=fields)

    def node_session(self, rp: NodeRP) -> dict[str, Any]:
        return self.get(rp.base + "/api/session").json()

    def sign_out_at_node(self, rp: NodeRP) -> requests.Response:
        return self.sign_out_at_node_url(rp.base)

    def sign_out_at_node_url(self, base: str) -> requests.Response:
        """Press the sample relying party's "Đăng xuất" button (its form, with its token)."""
        page = self.get(base + "/logout")
        return self.post(base + "/logout", data=form_fields(page.text, "/logout"))

    def close(self) -> None:
        self.http.close()


def node_client_metadata(base: str, *, logout: str, name: str) -> dict[str, Any]:
    """Registration metadata for clients/demo-rp at `base` (back- or front-channel logout)."""
    metadata: dict[str, Any] = {
        "client_name": name,
        "redirect_uris": [base + "/auth/callback"],
        "post_logout_redirect_uris": [base + "/"],
        "scope": "openid profile email org",
    }
    if logout == "backchannel":
        metadata["backchannel_logout_uri"] = base + "/auth/backchannel-logout"
        metadata["backchannel_logout_session_required"] = True
    else:
        metadata["frontchannel_logout_uri"] = base + "/auth/frontchannel-logout"
        metadata["frontchannel_logout_session_required"] = True
    return metadata
