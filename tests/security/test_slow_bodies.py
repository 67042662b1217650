"""Clients that send their headers and then never send the body (slowloris on bodies).

The attack: `idp serve` runs each request on a Python thread (two per host with the default
two workers). A POST announcing a body that never comes held a thread for as long as the
client kept the connection open: three such connections and the whole provider, sign-in
page and health check included, stopped answering.

The defence is where a WSGI provider can have it: the reverse proxy of the production
set-up reads each request whole before passing it on and drops a client that stalls.
docs/examples/nginx.conf is that set-up; this test runs it (Debian's nginx) in front of
`idp serve` exactly as written, opens stalled uploads through it and checks that the
provider keeps answering, and that nginx gives up on the stalled clients.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from helpers.ci import unavailable
from helpers.live import free_port, idp_serve, stop_process, wait_for_answer

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "docs" / "examples" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STALLED_CLIENTS = 6


def _stalled_upload(port: int, path: str) -> socket.socket:
    """A POST whose headers announce 20 bytes of form body that never come."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n".encode()
    )
    return sock


@pytest.fixture
def provider(sqlite_url, tmp_path):
    """`idp serve` as in production (granian, two workers), on 127.0.0.1."""
    proc, port = idp_serve(
        sqlite_url, tmp_path, "--workers", "2", stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_answer(f"http://127.0.0.1:{port}/healthz", proc)
        yield port
    finally:
        stop_process(proc, grace=15)


@pytest.fixture
def nginx(provider):
    if not os.path.exists(NGINX):
        unavailable("nginx is not installed (Debian package nginx; .ci/run installs it)")
    port = free_port()
    # nginx's workers run as nobody when started as root: their temporary folders must be
    # theirs to write, so the prefix is a world-writable folder of its own under /tmp.
    prefix = Path(tempfile.mkdtemp(prefix="idp-nginx-"))
    prefix.chmod(0o777)
    conf = (
        NGINX_CONF.read_text()
        .replace("{{PREFIX}}", str(prefix))
        .replace("{{PORT}}", str(port))
        .replace("{{IDP_PORT}}", str(provider))
    )
    (prefix / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_answer(f"http://127.0.0.1:{port}/healthz", proc, seconds=10)
        yield port
    finally:
        stop_process(proc, grace=15)
        shutil.rmtree(prefix, ignore_errors=True)


def test_stalled_uploads_through_the_proxy_leave_the_provider_answering(nginx):
    stalled = [_stalled_upload(nginx, path) for path in ["/login", "/oauth2/token"] * 3]
    assert len(stalled) == STALLED_CLIENTS
    try:
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            health = requests.get(f"http://127.0.0.1:{nginx}/healthz", timeout=5)
            page = requests.get(f"http://127.0.0.1:{nginx}/login", timeout=5)
            assert health.status_code == 200 and page.status_code == 200
            assert time.monotonic() - started < 2.0
            time.sleep(0.2)
    finally:
        for sock in stalled:
            sock.close()


def test_the_proxy_gives_up_on_a_stalled_upload(nginx):
    sock = _stalled_upload(nginx, "/login")
    try:
        sock.settimeout(20)
        started = time.monotonic()
        answer = sock.recv(4096)  # nginx answers 408 or closes once client_body_timeout passes
        waited = time.monotonic() - started
    finally:
        sock.close()
    assert waited < 15
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
