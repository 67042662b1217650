"""Benchmark of the console's people search on a province-sized directory.

Loads 9,800 people with Vietnamese names into about 700 units (a province, 30 departments
and districts, each with 22 offices, communes or schools below it), a fifth of them with a
second address, on a fresh SQLite or PostgreSQL database migrated to head. A
super-administrator and a district's unit administrator sign in through the real forms
(password, then an authenticator code) and the console page GET /admin/people is asked,
through the whole WSGI application (session, scope, query, page), for realistic queries:
names with and without diacritics, address prefixes, a district's subtree, few and many
matches. Prints p50/p95/max per query and over all, in milliseconds.

    .venv/bin/python -m bench.people_search                 # SQLite and PostgreSQL
    .venv/bin/python -m bench.people_search --db sqlite --rounds 50

The target (issue 11): p95 under 100 ms on 9,800 people on both databases.
PostgreSQL: IDP_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.run import drop_database, make_database

PEOPLE = 9_800
TOP_UNITS = 30
UNITS_BELOW = 22
ALIAS_SHARE = 0.2
PASSWORD = "Mật-khẩu-đủ-dài-2026"

FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý".split()  # noqa: SIM905
MIDDLE = "Văn Thị Minh Hữu Ngọc Thanh Quốc Đức Thị Văn Kim Hoàng Xuân Bảo".split()  # noqa: SIM905
GIVEN = (  # noqa: SIM905
    "An Bình Cường Dũng Đào Giang Hà Hải Hạnh Hoa Hùng Hương Khánh Lan Linh Long Mai Minh "
    "Nam Ngọc Phúc Quang Sơn Tâm Thảo Thư Trang Tuấn Vân Yến Đạt Hiếu Nhung Phương Tú"
).split()

# name: the query string of GET /admin/people
QUERIES = {
    "name, no diacritics, many": "q=nguyen+van",
    "name, no diacritics, few": "q=tran+thi+thu",
    "name, diacritics": "q=Phạm+Minh+Tuấn",
    "name with đ": "q=dang+thi+dao",
    "given name only": "q=yen",
    "address prefix": "q=le.hoa",
    "full address": "q=nguyen.van.an.17@haugiang.gov.vn",
    "no match": "q=zzzz",
    "district subtree": "unit=HG.D07",
    "district subtree + name": "unit=HG.D07&q=nguyen",
    "all, page 3": "offset=100",
}
UNIT_ADMIN_QUERIES = {
    "unit admin: name": "q=nguyen",
    "unit admin: all": "",
}


def _folded(text: str) -> str:
    from idp.directory.models import fold_for_search

    return fold_for_search(text).replace(" ", ".")


def directory_csv(seed: int = 11) -> tuple[str, str]:
    """(units.csv, users.csv): the province's units and its people, as an office exports
    them for `idp directory import`."""
    import csv
    import io

    rng = random.Random(seed)
    units = io.StringIO()
    unit_rows = csv.writer(units)
    unit_rows.writerow(["code", "name", "kind", "parent_code"])
    unit_rows.writerow(["HG", "Tỉnh Hậu Giang", "province", ""])
    leaves: list[str] = []
    for top in range(1, TOP_UNITS + 1):
        district = f"HG.D{top:02}"
        unit_rows.writerow([district, f"Đơn vị cấp huyện {top}", "", "HG"])
        leaves.append(district)
        for below in range(1, UNITS_BELOW + 1):
            code = f"{district}.{below:02}"
            unit_rows.writerow([code, f"Phòng, xã, trường {below} ({top})", "", district])
            leaves.append(code)
    users = io.StringIO()
    user_rows = csv.writer(users)
    user_rows.writerow(
        ["email", "aliases", "family_name", "middle_name", "given_name", "unit_code"]
    )
    seen: set[str] = set()
    for number in range(PEOPLE):
        family, middle, given = rng.choice(FAMILY), rng.choice(MIDDLE), rng.choice(GIVEN)
        local = _folded(f"{family} {middle} {given}")
        while local in seen:
            local = f"{_folded(f'{family} {middle} {given}')}.{rng.randrange(1000)}"
        seen.add(local)
        unit = rng.choice(leaves)
        alias = ""
        if rng.random() < ALIAS_SHARE:
            alias = f"{_folded(given)}.{_folded(family)}.{number}@vithanh.gov.vn"
        user_rows.writerow([f"{local}@haugiang.gov.vn", alias, family, middle, given, unit])
    return units.getvalue(), users.getvalue()


def load_directory(app, seed: int = 11) -> None:
    """Units and people loaded as an administrator loads them: through the CSV import
    (`idp directory import`), whose bulk writes are what real directories are made of."""
    from idp.directory.csvfile import parse_csv
    from idp.directory.importer import UNIT_COLUMNS, UNIT_REQUIRED, import_units
    from idp.directory.user_import import USER_COLUMNS, USER_REQUIRED, import_users
    from idp.extensions import db

    units_text, users_text = directory_csv(seed)
    for text, known, required, function, source in (
        (units_text, UNIT_COLUMNS, UNIT_REQUIRED, import_units, "units.csv"),
        (users_text, USER_COLUMNS, USER_REQUIRED, import_users, "users.csv"),
    ):
        with app.test_request_context():
            table = parse_csv(text, known=known, required=required, source=source)
            summary = function(table, actor="cli:bench")
            if summary.rejected:
                raise SystemExit(f"{source}: {len(summary.rejected)} rows rejected")
            db.session.commit()  # as the command does (idp.directory.cli.run_import)
    _check_names_are_searchable(app)


def _check_names_are_searchable(app) -> None:
    """Figures of a search that finds nobody would be meaningless: stop if the import left
    people without their folded name."""
    import sqlalchemy as sa

    from idp.directory.models import User
    from idp.extensions import db

    with app.app_context():
        unfolded = db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.search_name == "")
        )
    if unfolded:
        raise SystemExit(f"{unfolded} people have no folded name: the name search misses them")


def signed_in_admin(app, email: str, *, roles: list[str], unit: str | None = None):
    """A test client signed in as a new administrator through the real forms."""
    import pyotp

    from idp.admin import permissions
    from idp.directory import service
    from idp.extensions import db
    from idp.factors import service as factors

    with app.test_request_context():
        new = service.NewUser(
            email=email, name="Quản Trị Viên", roles=tuple(roles), unit_code=unit, password=PASSWORD
        )
        user = service.create_user(new, actor="bench")
        if unit:
            permissions.grant_unit(user, service.get_unit(unit), actor="bench")
        before = datetime.now(UTC) - timedelta(seconds=60)
        enrolment = factors.begin_totp_enrolment(user, before)
        code = pyotp.TOTP(enrolment.secret).at(before)
        factors.confirm_totp_enrolment(user, code, before, {}, enrolment.mark)
        db.session.commit()
    http = app.test_client()
    token = _csrf(http.get("/login").get_data(as_text=True))
    http.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    token = _csrf(http.get("/login/factor").get_data(as_text=True))
    answer = http.post(
        "/login/factor",
        data={"code": pyotp.TOTP(enrolment.secret).now(), "csrf_token": token},
    )
    if answer.status_code != 302 or http.get("/admin/people").status_code != 200:
        raise SystemExit(f"could not sign {email} in to the console")
    return http


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def measure(http, query: str, rounds: int) -> list[float]:
    """Milliseconds of each GET /admin/people?query (after one warm-up)."""
    http.get("/admin/people?" + query)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = http.get("/admin/people?" + query)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{query}: {answer.status_code}")
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(kind: str, rounds: int) -> None:
    from flask_migrate import upgrade

    from idp import create_app

    with tempfile.TemporaryDirectory() as workdir:
        url = make_database(kind, Path(workdir))
        try:
            app = create_app(
                {
                    "DATABASE_URL": url,
                    "ISSUER": "http://127.0.0.1:5000",
                    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                    "LOG_LEVEL": "WARNING",
                    "ARGON2_MEMORY_KIB": 1024,
                    "ARGON2_TIME_COST": 1,
                }
            )
            with app.app_context():
                upgrade()
            started = time.perf_counter()
            load_directory(app)
            print(f"{kind}: loaded {PEOPLE} people in {time.perf_counter() - started:.1f} s")
            report(app, rounds)
        finally:
            from idp.extensions import db

            with app.app_context():
                db.engine.dispose()
            drop_database(kind, url)


def report(app, rounds: int) -> None:
    super_admin = signed_in_admin(app, "quan.tri@haugiang.gov.vn", roles=["admin"])
    district = signed_in_admin(app, "it.d07@haugiang.gov.vn", roles=[], unit="HG.D07")
    everything: list[float] = []
    print(f"{'query':<32}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    cases = [(super_admin, n, q) for n, q in QUERIES.items()]
    cases += [(district, n, q) for n, q in UNIT_ADMIN_QUERIES.items()]
    for http, name, query in cases:
        times = measure(http, query, rounds)
        everything += times
        print(
            f"{name:<32}{statistics.median(times):>9.1f}{percentile(times, 0.95):>9.1f}"
            f"{max(times):>9.1f}"
        )
    print(
        f"{'all queries':<32}{statistics.median(everything):>9.1f}"
        f"{percentile(everything, 0.95):>9.1f}{max(everything):>9.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=30, help="requests per query")
    args = parser.parse_args(argv)
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        run(kind, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
