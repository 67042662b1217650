"""Benchmarks of the identity provider under its production server configuration.

Starts `idp serve` (granian, 2 workers by default) on 127.0.0.1 against a fresh SQLite or
PostgreSQL database, prepares users, clients and tokens through the real HTTP endpoints,
then drives each scenario with wrk (keep-alive connections, Lua scripts in bench/lua) and
prints requests/s, p50/p99 latency and the error count.

    python -m bench.run                          # every scenario, SQLite and PostgreSQL
    python -m bench.run --db sqlite --only discovery,jwks --duration 5

Needs wrk (Debian package `wrk`) and, for --db postgres, the PostgreSQL server of
IDP_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.cpu import CpuMeter
from bench.prepare import UNLIMITED, Fixtures

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
RESULTS = ROOT / "bench" / "results"
PG_URL = os.environ.get("IDP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SCENARIOS = [
    "discovery",
    "jwks",
    "client_credentials",
    "refresh",
    "introspection",
    "userinfo",
    "sso_hop",
    "signin",
]


@dataclass
class Result:
    scenario: str
    database: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    # Shares of the machine (all cores, percent) used during the scenario by the server,
    # wrk, the database's processes (PostgreSQL) and everything else (bench/cpu.py).
    cpu_server: float = 0.0
    cpu_wrk: float = 0.0
    cpu_database: float = 0.0
    cpu_others: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    import sqlalchemy as sa

    name = f"idp_bench_{os.getpid()}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(kind: str, url: str) -> None:
    if kind != "postgres":
        return
    import sqlalchemy as sa

    name = sa.make_url(url).database
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def database_pids(kind: str, url: str):
    """A function listing the PostgreSQL processes working for the benchmark's database:
    its backends and the server's WAL writer, checkpointer and background writer."""
    if kind != "postgres":
        return lambda: set()
    import sqlalchemy as sa

    name = sa.make_url(url).database
    engine = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    query = sa.text(
        "SELECT pid FROM pg_stat_activity WHERE datname = :name OR backend_type IN"
        " ('walwriter', 'checkpointer', 'background writer')"
    )

    def pids() -> set[int]:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(query, {"name": name})}

    return pids


def wait_ready(
    base: str, proc: subprocess.Popen, seconds: float = 30, path: str = "/readyz"
) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            if requests.get(base + path, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_wrk(
    script: str, url: str, env: dict[str, str], duration: int, connections: int, threads: int
) -> dict:
    body = (LUA / script).read_text() + "\n" + (LUA / "report.lua").read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(body)
        path = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{duration}s",
                "--timeout",
                "10s",
                "-s",
                path,
                url,
            ],
            env={**os.environ, **env, "BENCH_THREADS": str(threads)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(path)
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    return json.loads(line.removeprefix("BENCH_JSON "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="IDP_KEY=VALUE",
        help="a setting for the server (repeatable), e.g. IDP_ACCESS_TOKEN_SIGNING_ALG=RS256",
    )
    parser.add_argument(
        "--id-token-alg",
        choices=["RS256", "ES256"],
        help="register the web client for ID tokens signed with this (default: RS256)",
    )
    parser.add_argument(
        "--server-command",
        help="run `python -m <this>` instead of `idp serve` ({port} and {workers} filled in)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package 'wrk')", file=sys.stderr)
        return 2
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results: list[Result] = []
    for kind in kinds:
        results += bench_database(kind, chosen, args)
    print_table(results, args)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(
        json.dumps({"args": vars(args), "results": [asdict(r) for r in results]}, indent=2)
    )
    return 0


def bench_database(kind: str, chosen: list[str], args) -> list[Result]:
    results = []
    with serving(kind, chosen, args) as (fixtures, meter):
        for scenario in chosen:
            script, target, extra = fixtures.scenario(scenario)
            results.append(
                measure(scenario, kind, script, fixtures.base + target, extra, args, meter)
            )
    return results


@contextmanager
def serving(kind: str, chosen: list[str], args) -> Iterator[tuple[Fixtures, CpuMeter]]:
    """The server on a fresh database, with the fixtures of the chosen scenarios; stopped and
    the database dropped afterwards. `fixtures.env` is the server's environment."""
    from bench.prepare import prepare

    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    url = make_database(kind, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "IDP_DATABASE_URL": url,
        "IDP_ISSUER": base,
        "IDP_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "IDP_LOG_LEVEL": "WARNING",
        # Sign-in throttling would count the benchmark's own address; a benchmark measures
        # the sign-in itself.
        "IDP_LOGIN_THROTTLE_FREE_ATTEMPTS": "1000000",
        # Likewise the rate limits of the token, introspection, revocation and registration
        # endpoints (bench.prepare.UNLIMITED).
        **{f"IDP_{key}": value for key, value in UNLIMITED.items()},
    }
    for setting in args.env:
        key, _, value = setting.partition("=")
        env[key] = value
    subprocess.run(
        [sys.executable, "-m", "idp.cli", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    server_log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        server_argv(port, args),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe nobody reads: a full pipe would stall the server.
        stderr=server_log,
    )
    try:
        wait_ready(base, proc)
        fixtures = prepare(
            base,
            env,
            ROOT,
            tokens_needed=args.connections * 4,
            scenarios=chosen,
            id_token_alg=args.id_token_alg,
        )
        fixtures.env = env
        yield fixtures, CpuMeter(proc.pid, database_pids(kind, url))
    finally:
        stop_process(proc)
        server_log.close()
        tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
        if tail.strip():
            print(f"server log ({kind}), last lines:\n{tail}", file=sys.stderr)
        drop_database(kind, url)
        shutil.rmtree(workdir, ignore_errors=True)


def server_argv(port: int, args) -> list[str]:
    if args.server_command:
        # Another server configuration to compare (docs/performance.md), e.g.
        # "granian --interface wsgi --port {port} --workers {workers} --no-ws idp.wsgi:app".
        return [
            sys.executable,
            "-m",
            *shlex.split(args.server_command.format(port=port, workers=args.workers)),
        ]
    return [
        sys.executable,
        "-m",
        "idp.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--server",
        args.server,
    ]


def measure(
    scenario: str, database: str, script: str, url: str, extra: dict[str, str], args, meter
) -> Result:
    """One scenario under wrk (args: duration, connections, threads); prints its line."""
    before, started = meter.snapshot(), time.monotonic()
    figures = run_wrk(script, url, {**extra}, args.duration, args.connections, args.threads)
    usage = meter.usage(before, meter.snapshot(), time.monotonic() - started)
    errors = sum(
        figures[k] for k in ("non2xx3xx", "connect", "read", "write", "timeout", "failures")
    )
    # Scripts that count their units of work (a rotated refresh token, an SSO hop, a
    # sign-in) are measured by those; the others by the requests wrk completed.
    done = figures["units"] if figures["counted"] else figures["requests"]
    per_second = done / (figures["duration_us"] / 1e6)
    print(
        f"{database:8} {scenario:20} {per_second:10.1f}/s"
        f"  p50 {figures['p50_us'] / 1000:7.2f} ms"
        f"  p99 {figures['p99_us'] / 1000:7.2f} ms  errors {errors}"
        f"  CPU: server {usage.server}% wrk {usage.wrk}% database {usage.database}%"
        f" others {usage.others}%",
        flush=True,
    )
    return Result(
        scenario,
        database,
        round(per_second, 1),
        figures["p50_us"] / 1000,
        figures["p99_us"] / 1000,
        errors,
        figures["requests"],
        usage.server,
        usage.wrk,
        usage.database,
        usage.others,
    )


def print_table(results: list[Result], args) -> None:
    server = args.server_command or f"idp serve --server {args.server} --workers {args.workers}"
    extra = " ".join(
        [*args.env, *([f"id_token_alg={args.id_token_alg}"] if args.id_token_alg else [])]
    )
    print_rows(
        results,
        f"{server}; wrk -t{args.threads} -c{args.connections} -d{args.duration}s;"
        f" {os.cpu_count()} cores{'; ' + extra if extra else ''}",
    )


def print_rows(results: list[Result], heading: str) -> None:
    """The results as a Markdown table under a line naming the configuration."""
    print()
    print(heading)
    print(
        "| scenario | database | per second | p50 ms | p99 ms | errors"
        " | CPU server / wrk / db / others % |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r.scenario} | {r.database} | {r.rate:,.0f} | {r.p50_ms:.2f}"
            f" | {r.p99_ms:.2f} | {r.errors}"
            f" | {r.cpu_server:.0f} / {r.cpu_wrk:.0f} / {r.cpu_database:.0f}"
            f" / {r.cpu_others:.0f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
