"""A demo directory shaped like the province, built deterministically, through the import.

`generate()` makes the same units and people on every run (a fixed random seed; nothing
depends on hash order or the clock). `seed()` feeds them to the CSV import machinery, so a
second run changes nothing, then makes sure the demo accounts have their known passwords,
and that the demo unit administrator administers their district (idp.admin.permissions).
Only those accounts get a password: the 9,797 others cannot sign in.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from idp import audit
from idp.directory.csvfile import CsvTable
from idp.directory.importer import UNIT_COLUMNS, ImportSummary, Progress, import_units
from idp.directory.models import ascii_fold
from idp.directory.passwords import hash_password, verify_password
from idp.directory.service import check_password
from idp.directory.store import find_unit, find_user_by_address
from idp.directory.user_import import USER_COLUMNS, import_users
from idp.errors import IdpError
from idp_demo import data

SEED = 20200715  # the day the provincial portal went live
USER_COUNT = 9800
DISABLED_PER_MILLE = 15
ALIAS_PER_CENT = 15
PHONE_PER_CENT = 70
MOBILE_PREFIXES = [
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "70",
    "76",
    "77",
    "79",
    "81",
    "83",
    "84",
    "85",
    "86",
    "88",
    "89",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "39",
]


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    full_name: str
    unit_code: str
    title: str
    roles: str = ""
    aliases: str = ""
    # The unit whose subtree the account administers (a delegated unit administrator).
    administers: str = ""


# Passwords that pass the policy and are printed by `idp demo seed` and `make run`.
DEMO_ACCOUNTS = (
    DemoAccount(
        "admin@" + data.DOMAIN,
        "HauGiang@QuanTri2026",
        "Huỳnh Minh Khoa",
        "STTTT-TTCNTT",
        "Quản trị hệ thống",
        roles="admin",
    ),
    DemoAccount(
        "demo@" + data.DOMAIN,
        "HauGiang@CongChuc2026",
        "Nguyễn Thị Minh Thư",
        "STC",
        "Chuyên viên",
        aliases="minhthu.stc@" + data.DOMAIN,
    ),
    DemoAccount(
        "quantri.vithanh@" + data.DOMAIN,
        "HauGiang@DonVi2026",
        "Trần Quốc Bảo",
        "VT-VP",
        "Chuyên viên công nghệ thông tin",
        administers="VT",
    ),
)


class DemoRefused(IdpError):
    """Demo accounts with published passwords have no place in a production directory."""


@dataclass
class DemoResult:
    units: ImportSummary
    users: ImportSummary
    accounts: list[tuple[DemoAccount, bool]] = field(
        default_factory=list
    )  # (account, password set now)


# -- units ---------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return "".join(ch for ch in ascii_fold(text).upper() if ch.isalnum())


def _place(commune: str) -> tuple[str, str]:
    """(code part, place name) of a commune: "Xã Vị Thủy" -> ("XVITHUY", "Vị Thủy").

    Wards named by a numeral keep the prefix as their place name: "Phường I".
    """
    for prefix, abbr in (("Thị trấn ", "TT"), ("Phường ", "P"), ("Xã ", "X")):
        if commune.startswith(prefix):
            rest = commune[len(prefix) :]
            return abbr + _slug(rest), commune if set(rest) <= set("IVX") else rest
    return _slug(commune), commune


def generate_units() -> list[dict[str, str]]:
    """The unit rows, parents first: 1 + 24 + 77 + 8 + 107 + 75 + 23 + 296 + 93 = 704."""
    root, root_name = data.PROVINCE
    units = [{"code": root, "name": root_name, "kind": "province", "parent_code": ""}]

    def add(code: str, name: str, kind: str, parent: str) -> None:
        units.append({"code": code, "name": name, "kind": kind, "parent_code": parent})

    for code, name, subs in data.DEPARTMENTS:
        add(code, name, "department", root)
        for suffix, sub_name in subs:
            add(f"{code}-{suffix}", sub_name, "sub_unit", code)
    for name in data.HIGH_SCHOOLS:
        add(f"THPT-{_slug(name)}", f"Trường THPT {name}", "high_school", "SGDDT")
    clinics = {}
    for district, place in data.CLINICS:
        clinics.setdefault(district, []).append(place)
    school_index = 0
    for dcode, dkind, dname, communes in data.DISTRICTS:
        add(dcode, f"Ủy ban nhân dân {dkind} {dname}", "district", root)
        offices = [
            data.CITY_OFFICES.get(c, (c, n)) if dkind == "thành phố" else (c, n)
            for c, n in data.DISTRICT_OFFICES
        ]
        if dcode in data.ETHNIC_DISTRICTS:
            offices.append(data.ETHNIC_OFFICE)
        for ocode, oname in offices:
            add(f"{dcode}-{ocode}", f"{oname} {dkind} {dname}", "office", dcode)
        health = f"{dcode}-TTYT"
        add(health, f"Trung tâm Y tế {dkind} {dname}", "health_centre", "SYT")
        for place in clinics.get(dcode, []):
            add(
                f"{dcode}-PKDK{_slug(place)}",
                f"Phòng khám đa khoa khu vực {place}",
                "health_centre",
                health,
            )
        for commune in communes:
            code_part, place = _place(commune)
            ccode = f"{dcode}-{code_part}"
            add(ccode, commune, "commune", dcode)
            add(
                f"{ccode}-TYT",
                f"Trạm Y tế {commune[0].lower()}{commune[1:]}",
                "health_centre",
                health,
            )
            education = f"{dcode}-PGDDT"
            add(f"{ccode}-THCS", f"Trường THCS {place}", "school", education)
            # 75 communes x 3 schools + a second primary school in the first 71: 296.
            if school_index < 71:
                add(f"{ccode}-TH1", f"Trường Tiểu học {place} 1", "school", education)
                add(f"{ccode}-TH2", f"Trường Tiểu học {place} 2", "school", education)
            else:
                add(f"{ccode}-TH", f"Trường Tiểu học {place}", "school", education)
            if school_index % 2:
                add(f"{ccode}-MG", f"Trường Mẫu giáo {place}", "school", education)
            else:
                add(f"{ccode}-MN", f"Trường Mầm non {place}", "school", education)
            school_index += 1
    for unit in units:
        unit["active"] = "true"
    return units


# -- people --------------------------------------------------------------------------------


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _person(rng: random.Random) -> tuple[str, str, str]:
    family = _weighted(rng, data.FAMILY_NAMES)
    if rng.random() < 0.5:
        middles, givens = data.MIDDLE_NAMES_FEMALE, data.GIVEN_NAMES_FEMALE
    else:
        middles, givens = data.MIDDLE_NAMES_MALE, data.GIVEN_NAMES_MALE
    middle = rng.choice(middles)
    if rng.random() < 0.15:  # "Nguyễn Thị Ngọc Hân": two middle names, often Thị or Văn first
        first = middles[0] if rng.random() < 0.6 else rng.choice(middles)
        second = rng.choice(middles[1:])
        if second != first:
            middle = f"{first} {second}"
    given = rng.choice(givens)
    if given in middle.split():
        given = rng.choice(givens)
    return family, middle, given


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.2:  # an office line: area code 293 is Hậu Giang
        return f"+84 293 3{rng.randint(100, 999)} {rng.randint(100, 999)}"
    prefix = rng.choice(MOBILE_PREFIXES)
    return f"+84 {prefix}{rng.randint(0, 9)} {rng.randint(100, 999)} {rng.randint(100, 999)}"


def _unique(local: str, tag: str, used: set[str]) -> str:
    n = 1
    while True:
        address = f"{local}{n if n > 1 else ''}.{tag}@{data.DOMAIN}"
        if address not in used:
            used.add(address)
            return address
        n += 1


def generate_users(units: list[dict[str, str]], count: int = USER_COUNT) -> list[dict[str, str]]:
    """`count` people (the demo accounts included) spread over the units by their kind."""
    rng = random.Random(SEED)
    used = {a.email for a in DEMO_ACCOUNTS} | {a.aliases for a in DEMO_ACCOUNTS if a.aliases}
    users = [
        {
            "email": a.email,
            "aliases": a.aliases,
            "full_name": a.full_name,
            "unit_code": a.unit_code,
            "title": a.title,
            "phone": "",
            "status": "active",
            "roles": a.roles,
        }
        for a in DEMO_ACCOUNTS
    ]
    staffed = [u for u in units if u["kind"] in data.STAFF_WEIGHTS]
    weights = [data.STAFF_WEIGHTS[u["kind"]] for u in staffed]
    picks = rng.choices(range(len(staffed)), weights=weights, k=count - len(users))
    per_unit = [0] * len(staffed)
    for i in picks:
        per_unit[i] += 1
    for unit, n in zip(staffed, per_unit, strict=True):
        kind, tag = unit["kind"], unit["code"].lower().replace("-", ".")
        for position in range(n):
            family, middle, given = _person(rng)
            initials = "".join(w[0] for w in ascii_fold(f"{family} {middle}").lower().split())
            email = _unique(initials + ascii_fold(given).lower(), tag, used)
            aliases = ""
            if rng.random() * 100 < ALIAS_PER_CENT:
                aliases = _unique(_slug(f"{family}{middle}{given}").lower(), tag, used)
            title = data.HEAD_TITLES[kind] if position == 0 else rng.choice(data.TITLES[kind])
            users.append(
                {
                    "email": email,
                    "aliases": aliases,
                    "full_name": f"{family} {middle} {given}",
                    "unit_code": unit["code"],
                    "title": title,
                    "phone": _phone(rng) if rng.random() * 100 < PHONE_PER_CENT else "",
                    "status": "disabled" if rng.random() * 1000 < DISABLED_PER_MILLE else "active",
                    "roles": "",
                }
            )
    return users


# The demo's people get no imported hash: the password_hash column, present and empty, would
# reject every row (an empty hash is an error of the file); their passwords are set below.
DEMO_USER_COLUMNS = tuple(c for c in USER_COLUMNS if c != "password_hash")


def _table(columns: tuple[str, ...], rows: list[dict[str, str]], source: str) -> CsvTable:
    return CsvTable(
        columns=list(columns),
        rows=[(i + 2, {c: row.get(c, "") for c in columns}) for i, row in enumerate(rows)],
        source=source,
    )


def export_csv(directory: str | Path) -> tuple[Path, Path]:
    """Write the demo directory as units.csv and users.csv (UTF-8 with a BOM, for spreadsheets)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    units = generate_units()
    paths = (directory / "units.csv", directory / "users.csv")
    for path, columns, rows in (
        (paths[0], UNIT_COLUMNS, units),
        (paths[1], USER_COLUMNS, generate_users(units)),
    ):
        present = [c for c in columns if any(c in row for row in rows)]
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=present, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return paths


def seed(*, actor: str, progress: Progress | None = None) -> DemoResult:
    """Load the demo directory; refuses in production (its passwords are published)."""
    if current_app.config.get("ENV") == "production":
        raise DemoRefused("refusing to load demo accounts with published passwords in production")
    for account in DEMO_ACCOUNTS:
        check_password(account.password, [account.email, account.aliases])
    units = generate_units()
    unit_summary = import_units(_table(UNIT_COLUMNS, units, "demo:units"), actor=actor)
    users = generate_users(units)
    user_summary = import_users(
        _table(DEMO_USER_COLUMNS, users, "demo:users"), actor=actor, progress=progress
    )
    result = DemoResult(unit_summary, user_summary)
    for account in DEMO_ACCOUNTS:
        user = find_user_by_address(account.email)
        changed = False
        if user is not None and not verify_password(user.password_hash, account.password):
            user.password_hash = hash_password(account.password)
            audit.record("user.set_password", actor=actor, subject=user.sub, detail={"demo": True})
            changed = True
        if account.administers and user is not None:
            # lazy: the demo reaches the console's permissions only for this account
            from idp.admin import permissions

            permissions.grant_unit(user, find_unit(account.administers), actor=actor)
        result.accounts.append((account, changed))
    return result
