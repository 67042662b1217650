"""Benchmark of single sign-out: from the sign-out response to the last back-channel delivery.

Runs the production pieces as separate processes: `idp serve` (granian, 2 workers) and
`idp worker`, on a fresh SQLite or PostgreSQL database. Six relying parties, each a real
HTTP server on 127.0.0.1 in this process, took part in every SSO session. Then:

1. latency, one sign-out at a time (POST /logout, then wait for all six logout tokens):
   a. immediate: the web process attempts delivery on background threads right after the
      commit (LOGOUT_DELIVER_IMMEDIATELY, the default), the worker stands by;
   b. worker only: LOGOUT_DELIVER_IMMEDIATELY=false, `idp worker` polling every
      WORKER_POLL_SECONDS (1 s by default);
   reported as p50/p99/max of (last delivery - sign-out response), and the sign-out
   response time itself;
2. outbox throughput: many sign-outs queued while no worker runs, then one
   `idp worker --once` (8 relying parties at a time) drains the queue: deliveries/s.

    python -m bench.logout_fanout                    # SQLite and PostgreSQL
    python -m bench.logout_fanout --db sqlite --signouts 50 --queue 200

PostgreSQL: IDP_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from bench.run import ROOT, drop_database, free_port, make_database, stop_process, wait_ready

RELYING_PARTIES = 6
PASSWORD = "Bench-mật-khẩu-2026"
EMAIL = "bench.user@haugiang.gov.vn"


# ---------------------------------------------------------------- the relying parties


class Receivers:
    """Six back-channel logout endpoints; each delivery noted with its arrival time."""

    def __init__(self, count: int) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.total = 0
        self.cond = threading.Condition()
        self.servers = [self._start() for _ in range(count)]

    def _start(self) -> http.server.ThreadingHTTPServer:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                at = time.perf_counter()
                token = parse_qs(body)["logout_token"][0]
                claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
                with outer.cond:
                    outer.arrivals.setdefault(claims["sid"], []).append(at)
                    outer.total += 1
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.server_address[1]}/backchannel-logout" for s in self.servers]

    def wait_sid(self, sid: str, count: int, timeout: float) -> list[float]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.arrivals.get(sid, [])) >= count, timeout)
            return list(self.arrivals.get(sid, []))

    def wait_total(self, count: int, timeout: float) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.total >= count, timeout)
            return self.total

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


# ---------------------------------------------------------------- set-up


def settings_env(url: str, base: str, immediate: bool) -> dict[str, str]:
    return {
        **os.environ,
        "IDP_DATABASE_URL": url,
        "IDP_ISSUER": base,
        "IDP_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "IDP_LOG_LEVEL": "WARNING",
        "IDP_OUTBOUND_ALLOW_PRIVATE_TARGETS": "true",
        "IDP_LOGOUT_DELIVER_IMMEDIATELY": "true" if immediate else "false",
        "IDP_ARGON2_MEMORY_KIB": "1024",
        "IDP_ARGON2_TIME_COST": "1",
    }


def prepare(env: dict[str, str], urls: list[str]) -> None:
    """Migrate; one person; six clients with a back-channel logout URI each."""
    subprocess.run(
        [sys.executable, "-m", "idp.cli", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    app = _app(env)
    from idp.clients.models import Client
    from idp.directory.models import User
    from idp.directory.passwords import hash_password
    from idp.directory.store import set_addresses
    from idp.extensions import db

    with app.app_context():
        user = User(family_name="Nguyễn", given_name="Bench", status="active")
        user.password_hash = hash_password(PASSWORD)
        set_addresses(user, EMAIL, [])
        db.session.add(user)
        for i, url in enumerate(urls):
            db.session.add(
                Client(
                    client_id=f"rp{i + 1}",
                    client_metadata={
                        "client_name": f"RP {i + 1}",
                        "redirect_uris": [f"https://rp{i + 1}.example/cb"],
                        "grant_types": ["authorization_code"],
                        "response_types": ["code"],
                        "token_endpoint_auth_method": "none",
                        "scope": "openid",
                        "backchannel_logout_uri": url,
                        "backchannel_logout_session_required": True,
                    },
                    first_party=True,
                )
            )
        db.session.commit()
        db.engine.dispose()


def _app(env: dict[str, str]):
    from idp import create_app

    keys = ("DATABASE_URL", "ISSUER", "SECRET_KEY", "OUTBOUND_ALLOW_PRIVATE_TARGETS")
    return create_app({k: env[f"IDP_{k}"] for k in keys} | {"LOG_LEVEL": "WARNING"})


def make_sessions(env: dict[str, str], count: int) -> list[tuple[str, str]]:
    """`count` SSO sessions of the person, each used by the six clients: (handle, sid).

    Made straight in the database: signing in is not what is measured here.
    """
    app = _app(env)
    from idp.directory.store import find_user_by_address
    from idp.extensions import db, utcnow
    from idp.oidc import store as oidc_store
    from idp.sessions.store import start_session

    made = []
    with app.app_context():
        user = find_user_by_address(EMAIL)
        now = utcnow()
        for _ in range(count):
            handle, sso = start_session(user, amr=["pwd"], acr="urn:hg:loa:1", ip="127.0.0.1")
            db.session.flush()
            for i in range(RELYING_PARTIES):
                oidc_store.record_session_client(sso.id, f"rp{i + 1}", now)
            made.append((handle, sso.sid))
        db.session.commit()
        db.engine.dispose()
    return made


def sign_out(base: str, handle: str) -> float:
    """The sign-out page, as a browser uses it; returns when its answer has arrived."""
    import requests

    with requests.Session() as http:
        http.cookies.set("idp_sso", handle, domain="127.0.0.1")
        page = http.get(base + "/logout").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = http.post(base + "/logout", data={"csrf_token": token}, allow_redirects=False)
        answered = time.perf_counter()
        if response.status_code != 302:
            raise SystemExit(f"sign-out answered {response.status_code}")
        return answered


# ---------------------------------------------------------------- the measurements


@dataclass
class Latency:
    mode: str
    database: str
    signouts: int
    response_ms: list[float] = field(default_factory=list)
    last_delivery_ms: list[float] = field(default_factory=list)
    missing: int = 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "idp.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def measure_latency(
    kind: str, url: str, receivers: Receivers, immediate: bool, signouts: int
) -> Latency:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = settings_env(url, base, immediate)
    sessions = make_sessions(env, signouts)
    server = start(["serve", "--host", "127.0.0.1", "--port", str(port)], env)
    worker = start(["worker"], env)
    mode = "immediate + worker" if immediate else "worker only (poll 1 s)"
    result = Latency(mode, kind, signouts)
    try:
        wait_ready(base, server)
        for handle, sid in sessions:
            if not immediate:
                # Sign-outs come at any moment of the worker's polling cycle.
                time.sleep(random.uniform(0, 1.0))
            before = time.perf_counter()
            answered = sign_out(base, handle)
            arrivals = receivers.wait_sid(sid, RELYING_PARTIES, timeout=30)
            if len(arrivals) < RELYING_PARTIES:
                result.missing += 1
                continue
            result.response_ms.append((answered - before) * 1000)
            result.last_delivery_ms.append((max(arrivals) - answered) * 1000)
    finally:
        stop_process(server, timeout=20)
        stop_process(worker, timeout=20)
    return result


@dataclass
class Throughput:
    database: str
    deliveries: int
    seconds: float
    concurrency: int

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds


def measure_throughput(
    kind: str, url: str, receivers: Receivers, signouts: int, concurrency: int
) -> Throughput:
    """Queue signouts x 6 notices with no worker running, then drain them with one."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = settings_env(url, base, immediate=False)
    sessions = make_sessions(env, signouts)
    app = _app(env)
    from idp.extensions import db
    from idp.sessions.logout import end_sessions
    from idp.sessions.store import find_session_by_sid

    with app.app_context():
        ids = [find_session_by_sid(sid).id for _handle, sid in sessions]
        end_sessions(ids, reason="bench")
        db.session.commit()
        db.engine.dispose()
    expected = receivers.total + signouts * RELYING_PARTIES
    subprocess.run(
        [sys.executable, "-m", "idp.cli", "worker", "--once", "--concurrency", str(concurrency)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    if receivers.wait_total(expected, timeout=60) < expected:
        raise SystemExit("not every notice was delivered")
    # From the first delivery to the last: the worker process's start-up is not counted.
    with receivers.cond:
        times = [t for _h, sid in sessions for t in receivers.arrivals[sid]]
    return Throughput(kind, len(times), max(times) - min(times), concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--signouts", type=int, default=200, help="sign-outs timed one by one")
    parser.add_argument(
        "--worker-signouts", type=int, default=60, help="of those, in worker-only mode"
    )
    parser.add_argument("--queue", type=int, default=500, help="sign-outs queued for throughput")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    latencies: list[Latency] = []
    throughputs: list[Throughput] = []
    receivers = Receivers(RELYING_PARTIES)
    try:
        for kind in kinds:
            workdir = Path(tempfile.mkdtemp(prefix="idp-bench-logout-"))
            url = make_database(kind, workdir)
            try:
                prepare(settings_env(url, "http://127.0.0.1:1", True), receivers.urls())
                latencies.append(measure_latency(kind, url, receivers, True, args.signouts))
                latencies.append(measure_latency(kind, url, receivers, False, args.worker_signouts))
                throughputs.append(
                    measure_throughput(kind, url, receivers, args.queue, args.concurrency)
                )
            finally:
                drop_database(kind, url)
    finally:
        receivers.stop()
    print_tables(latencies, throughputs)
    return 0


def print_tables(latencies: list[Latency], throughputs: list[Throughput]) -> None:
    print(f"\nSingle sign-out, {RELYING_PARTIES} relying parties per session (ms)")
    head = (
        f"{'database':<9} {'delivery':<24} {'sign-outs':>9} {'response p50':>13} "
        f"{'last delivery p50':>18} {'p99':>7} {'max':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in latencies:
        d = r.last_delivery_ms
        print(
            f"{r.database:<9} {r.mode:<24} {len(d):>9} {statistics.median(r.response_ms):>13.1f} "
            f"{percentile(d, 0.5):>18.1f} {percentile(d, 0.99):>7.1f} {max(d):>7.1f}"
            + (f"   ({r.missing} incomplete)" if r.missing else "")
        )
    print("\nOutbox throughput: one `idp worker --once` draining a queue")
    head = (
        f"{'database':<9} {'deliveries':>10} {'concurrency':>11} {'seconds':>8} {'per second':>11}"
    )
    print(head)
    print("-" * len(head))
    for t in throughputs:
        print(
            f"{t.database:<9} {t.deliveries:>10} {t.concurrency:>11} {t.seconds:>8.2f} "
            f"{t.rate:>11.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
