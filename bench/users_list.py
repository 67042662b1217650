"""`idp users list` on the demo directory (9,800 accounts): how long the listing takes.

    python -m bench.users_list                       # SQLite in a temporary directory
    python -m bench.users_list --db postgres         # IDP_BENCH_PG_URL, a scratch database
    python -m bench.users_list --database-url sqlite:////tmp/idp.sqlite3   # already seeded

Migrates and seeds (`idp demo seed`) a fresh database unless --database-url is given, then
measures, best of --repeat runs:

- `in-process`: the command run by Click's runner inside an application already created,
  i.e. the listing itself: query, streaming, formatting 9,800 lines (the goal: < 1 s);
- `process`: the whole `idp users list > /dev/null` as an administrator types it,
  interpreter and application start-up included;
- `first line`: `idp users list | head -1`, which must end at once and cleanly.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

PG_URL = os.environ.get("IDP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IDP = str(Path(sys.executable).with_name("idp"))


def _scratch_postgres() -> tuple[str, str]:
    name = f"idp_bench_list_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name, name


def _drop_postgres(name: str) -> None:
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "IDP_DATABASE_URL": url}


def seed(url: str) -> None:
    for args in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run([IDP, *args], env=_env(url), check=True, capture_output=True)


def in_process(url: str, repeat: int) -> float:
    from idp import create_app

    app = create_app({"DATABASE_URL": url})
    runner = app.test_cli_runner()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = runner.invoke(args=["users", "list"])
        best = min(best, time.perf_counter() - started)
        assert result.exit_code == 0, result.output[-500:]
        assert result.stdout.count("\n") >= 9800, result.stdout.count("\n")
    return best


def whole_process(url: str, repeat: int, *, head: bool) -> float:
    best = float("inf")
    command = f"{IDP} users list | head -1" if head else f"{IDP} users list > /dev/null"
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            ["sh", "-c", command], env=_env(url), capture_output=True, text=True, check=True
        )
        best = min(best, time.perf_counter() - started)
        assert "Traceback" not in done.stderr, done.stderr
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help="An already seeded database.")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    scratch = None
    with tempfile.TemporaryDirectory() as tmp:
        url = options.database_url
        if url is None:
            if options.db == "postgres":
                url, scratch = _scratch_postgres()
            else:
                url = f"sqlite:///{Path(tmp) / 'idp.sqlite3'}"
            print(f"seeding the demo directory in {url} ...", file=sys.stderr)
            seed(url)
        try:
            print(f"in-process  {in_process(url, options.repeat):6.3f} s  (9,800 accounts)")
            print(f"process     {whole_process(url, options.repeat, head=False):6.3f} s")
            print(f"first line  {whole_process(url, options.repeat, head=True):6.3f} s")
        finally:
            if scratch:
                _drop_postgres(scratch)


if __name__ == "__main__":
    main()
