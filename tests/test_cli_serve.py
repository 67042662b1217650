"""`idp serve`: the production WSGI server answers on the given address and stops cleanly,
started from any directory (it serves `idp.wsgi:app` from the installed package)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_answers_health_and_readiness_then_stops(sqlite_url, server, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "IDP_DATABASE_URL": sqlite_url,
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idp.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--server",
            server,
        ],
        env=env,
        cwd=tmp_path,  # not the checkout: nothing is looked up relative to it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        assert answer is not None, proc.stderr.read().decode() if proc.poll() is not None else ""
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok", "database": "ok"}
        page = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert page.status_code == 200 and "Đăng nhập" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            pytest.fail("the server did not stop on SIGTERM")


def test_serve_refuses_a_bad_worker_count(runner):
    result = runner.invoke(args=["serve", "--workers", "0"])
    assert result.exit_code != 0
    assert "workers" in result.output.lower()
