"""The directory tools on the demo directory (704 units, 9,800 people), in-process:

- the cost of checking each legacy hash scheme at sign-in against argon2id (the verification
  an unknown account costs), hashes made by the mail systems' tools where installed;
- `rename-domain` of every person (dry run, then the real change) and its undo;
- merging the unit with most people into another, and moving a district under another.

    .venv/bin/python -m bench.directory_tools                    # a temporary SQLite file
    .venv/bin/python -m bench.directory_tools --database-url postgresql+psycopg://postgres@127.0.0.1/bench_dirtools

The PostgreSQL database must exist and be empty (it is migrated here). Figures are the
median of --rounds runs; on a shared machine they are indicative only.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

PASSWORD = "Mật khẩu thư cũ 2019!"


def _timed(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _tool_hashes() -> dict[str, str]:
    made: dict[str, str] = {}
    commands = {
        "{SSHA}": ["slappasswd", "-h", "{SSHA}", "-s", PASSWORD],
        "{SSHA512}": ["slappasswd", "-o", "module-load=pw-sha2", "-h", "{SSHA512}", "-s", PASSWORD],
        "{CRYPT}$6$": ["slappasswd", "-h", "{CRYPT}", "-c", "$6$%.16s", "-s", PASSWORD],
        "$5$": ["openssl", "passwd", "-5", PASSWORD],
        "bcrypt (htpasswd, cost 5)": ["htpasswd", "-nbB", "u", PASSWORD],
    }
    for name, command in commands.items():
        if shutil.which(command[0]) is None:
            continue
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
        made[name] = out.split(":", 1)[1] if command[0] == "htpasswd" else out
    from passlib import hash as passlib_hash

    made["{PBKDF2-SHA512} (25,000)"] = passlib_hash.ldap_pbkdf2_sha512.hash(PASSWORD)
    return made


def bench_hashes(app, rounds: int) -> None:
    from idp.directory.legacy import imported_hash
    from idp.directory.passwords import hash_password, verify_password

    with app.app_context():
        argon2 = hash_password(PASSWORD)
        for name, stored in (("argon2id (the provider)", argon2), ("unknown account", None)):
            spent = _timed(lambda stored=stored: verify_password(stored, "x"), rounds)
            print(f"{name:<30} {spent * 1000:8.1f} ms")
        for name, made in _tool_hashes().items():
            kept = imported_hash(made)
            spent = _timed(lambda kept=kept: verify_password(kept, "x"), rounds)
            print(f"{name:<30} {spent * 1000:8.1f} ms  (legacy check + one argon2 verification)")


def bench_reorganisation(app, rounds: int) -> None:
    from idp.directory import domains, units
    from idp.directory.models import Unit, User
    from idp.extensions import db

    with app.app_context():

        def rename(dry_run: bool, old: str, new: str):
            result = domains.rename_domain(old, new, actor="bench", dry_run=dry_run)
            db.session.commit()
            return result

        count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        spent = _timed(lambda: rename(True, "haugiang.gov.vn", "hg.gov.vn"), rounds)
        print(f"rename-domain --dry-run, {count} people: {spent:.2f} s")
        start = time.perf_counter()
        changed = len(rename(False, "haugiang.gov.vn", "hg.gov.vn").changed)
        print(f"rename-domain, {changed} changed: {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        rename(False, "hg.gov.vn", "haugiang.gov.vn")
        print(f"rename-domain back: {time.perf_counter() - start:.2f} s")

        biggest = db.session.execute(
            sa.select(User.unit_id, sa.func.count())
            .group_by(User.unit_id)
            .order_by(sa.func.count().desc())
            .limit(2)
        ).all()
        source, target = (db.session.get(Unit, row[0]) for row in biggest)
        start = time.perf_counter()
        result = units.merge_units(source, target, actor="bench")
        db.session.commit()
        spent = time.perf_counter() - start
        print(
            f"merge {source.code} into {target.code} ({result.people} people, "
            f"{result.children} units): {spent:.3f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from flask_migrate import upgrade

    from idp import create_app
    from idp.extensions import db
    from idp_demo.directory import seed

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": folder})
        # One audit line per change would bury the figures.
        logging.getLogger("idp.audit").setLevel(logging.WARNING)
        with app.app_context():
            upgrade()
            start = time.perf_counter()
            seed(actor="bench")
            db.session.commit()
            spent = time.perf_counter() - start
            print(f"demo directory loaded in {spent:.1f} s ({url.split(':', 1)[0]})")
        bench_hashes(app, args.rounds)
        bench_reorganisation(app, max(1, args.rounds // 2))


if __name__ == "__main__":
    main()
