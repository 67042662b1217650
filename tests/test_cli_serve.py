"""`idp serve`: the production WSGI server answers on the given address and stops cleanly,
started from any directory (it serves `idp.wsgi:app` from the installed package)."""

from __future__ import annotations

import subprocess

import pytest
import requests
from helpers.live import idp_serve, stop_process, wait_for_answer


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_answers_health_and_readiness_then_stops(sqlite_url, server, tmp_path):
    # Started in tmp_path, not the checkout: nothing is looked up relative to it.
    proc, port = idp_serve(
        sqlite_url, tmp_path, "--workers", "1", "--server", server, stderr=subprocess.PIPE
    )
    try:
        answer = wait_for_answer(f"http://127.0.0.1:{port}/readyz", proc)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok", "database": "ok"}
        page = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert page.status_code == 200 and "Đăng nhập" in page.text
    finally:
        if not stop_process(proc, grace=15):
            pytest.fail("the server did not stop on SIGTERM")


def test_serve_refuses_a_bad_worker_count(runner):
    result = runner.invoke(args=["serve", "--workers", "0"])
    assert result.exit_code != 0
    assert "workers" in result.output.lower()


@pytest.mark.parametrize("reuse_port", [True, False], ids=["like-granian", "plain"])
def test_serve_refuses_a_port_in_use(runner, reuse_port):
    """A second `idp serve` on a busy port says so and stops, rather than sharing the port
    with the first (granian listens with SO_REUSEPORT, which would let it start)."""
    import socket

    with socket.socket() as listener:
        if reuse_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = runner.invoke(args=["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is in use: another idp serve? "
        "choose another with --port / make run PORT=...\n"
    )
