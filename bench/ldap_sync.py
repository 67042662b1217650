"""Benchmark of `idp directory sync` against a real OpenLDAP (Debian's slapd).

Loads 9,800 people in 696 organisational units (24 departments, 28 offices under each)
into a slapd of its own on 127.0.0.1, the units into a fresh database (`idp units
import`), then times the whole command, start-up included, as cron would run it:

1. the first full sync (every account created),
2. an unchanged re-sync (every account compared, nothing written but the audit event),
3. a re-sync after 1 % of the entries changed (title), as a sync every few minutes sees.

    .venv/bin/python -m bench.ldap_sync                  # SQLite and PostgreSQL
    .venv/bin/python -m bench.ldap_sync --db sqlite --people 2000

Targets (issue 12): first full sync under 60 s, unchanged re-sync under 10 s, on 2 cores.
PostgreSQL: IDP_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import ROOT, drop_database, make_database

# The slapd set-up and the directory generator are the tests' (tests/helpers/slapd.py).
sys.path.insert(0, str(ROOT / "tests"))
from helpers.slapd import ROOT as ROOT_DN_SUFFIX  # noqa: E402
from helpers.slapd import (  # noqa: E402
    LdapTree,
    Person,
    Slapd,
    people,
    province_ldif,
)

DEPARTMENTS = 24
OFFICES_PER_DEPARTMENT = 28


def units() -> list[tuple[str, str]]:
    """(OU path, unit code): departments and their offices, 696 in all."""
    result = []
    for d in range(1, DEPARTMENTS + 1):
        result.append((f"D{d:02d}", f"D{d:02d}"))
        for o in range(1, OFFICES_PER_DEPARTMENT + 1):
            result.append((f"D{d:02d}/D{d:02d}-P{o:02d}", f"D{d:02d}-P{o:02d}"))
    return result


def units_csv(path: Path) -> None:
    lines = ["code,name,kind,parent_code"]
    for ou_path, code in units():
        parent = ou_path.split("/")[0] if "/" in ou_path else ""
        kind = "office" if parent else "department"
        lines.append(f"{code},Đơn vị {code},{kind},{parent}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def idp(env: dict[str, str], *args: str) -> tuple[float, str]:
    """Run `idp ARGS` as an operator would; seconds it took (start-up included), output."""
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "idp"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 3):
        raise SystemExit(f"idp {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed, result.stdout


def sync(env: dict[str, str]) -> tuple[float, dict]:
    elapsed, out = idp(env, "directory", "sync", "--json")
    return elapsed, json.loads(out)


def change_titles(server: Slapd, tree: LdapTree, share: float, title: str) -> int:
    """Give `share` of the people a new title (each database's run a title of its own)."""
    changed = [p for i, p in enumerate(tree.persons) if i % int(1 / share) == 0]
    server.modify(
        "".join(
            f"dn: {tree.dn(p)}\nchangetype: modify\nreplace: title\ntitle: {title}\n\n"
            for p in changed
        )
    )
    return len(changed)


def run_one(kind: str, server: Slapd, tree: LdapTree, workdir: Path) -> dict[str, float]:
    url = make_database(kind, workdir)
    settings = tree.settings(LDAP_UNIT_MAP={}, LDAP_TIMEOUT_SECONDS=30)
    env = {
        **os.environ,
        "IDP_DATABASE_URL": url,
        "IDP_LOG_LEVEL": "WARNING",
        **{f"IDP_{k}": _env_value(v) for k, v in settings.items()},
    }
    try:
        idp(env, "db", "upgrade")
        csv = workdir / "units.csv"
        units_csv(csv)
        idp(env, "units", "import", str(csv))
        first, created = sync(env)
        unchanged, same = sync(env)
        count = change_titles(server, tree, 0.01, f"Chuyen vien {kind}")
        changed, updated = sync(env)
        # The runs did what they are timed for: all created, then nothing, then 1 %.
        assert created["created"] == len(tree.persons) and not created["rejected"], created
        assert same["unchanged"] == len(tree.persons) and not same["changed"], same
        assert updated["updated"] == count, updated
        return {"first": first, "unchanged": unchanged, "changed": changed, "n_changed": count}
    finally:
        drop_database(kind, url)


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--people", type=int, default=9800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        workdir = Path(tmp)
        server = Slapd(workdir / "slapd")
        server.start()
        try:
            persons: list[Person] = people(args.people, units())
            started = time.monotonic()
            tree = LdapTree(server, f"o=bench,{ROOT_DN_SUFFIX}", persons)
            server.add(province_ldif(tree.base, persons))
            print(
                f"slapd: {len(persons)} people in {len(units())} OUs loaded in "
                f"{time.monotonic() - started:.1f} s"
            )
            kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
            for kind in kinds:
                (workdir / kind).mkdir()
                result = run_one(kind, server, tree, workdir / kind)
                print(
                    f"{kind:<9} first full sync {result['first']:6.1f} s   "
                    f"unchanged re-sync {result['unchanged']:5.1f} s   "
                    f"re-sync with {result['n_changed']} changed {result['changed']:5.1f} s"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
