"""The users import: accounts from CSV rows, matched by any of their addresses.

See importer.py for the plan both imports follow. Users are matched by any of their addresses
(primary or alias), so a re-import with a changed primary address updates the same user and
keeps their `sub`. Passwords are never touched: new users get none and cannot sign in until
one is set.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from idp.directory import records
from idp.directory.csvfile import CsvTable
from idp.directory.fields import (
    TITLE_MAX_LENGTH,
    FieldError,
    check_name_parts,
    clean,
    parse_aliases,
    parse_email,
    parse_optional_text,
    parse_phone,
    parse_roles,
    parse_status,
    parse_unit_code,
    split_full_name,
    unique_addresses,
)
from idp.directory.importer import ImportSummary, Progress, Ticker, finish, start
from idp.directory.models import USER_ACTIVE, USER_DISABLED, new_sub, normalize_email
from idp.directory.service import end_sign_ins
from idp.extensions import utcnow

USER_COLUMNS = (
    "email",
    "aliases",
    "full_name",
    "family_name",
    "middle_name",
    "given_name",
    "unit_code",
    "title",
    "phone",
    "status",
    "roles",
)
USER_REQUIRED = (("email",), ("full_name", "given_name", "family_name"))


def _parse_user_row(row: dict[str, str], columns: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"email": parse_email(row.get("email"))}
    if "aliases" in columns:
        values["aliases"] = parse_aliases(row["aliases"])
    parts = (row.get("family_name"), row.get("middle_name"), row.get("given_name"))
    if any(clean(p) for p in parts):
        values["names"] = check_name_parts(*(p or "" for p in parts))
    else:
        values["names"] = check_name_parts(*split_full_name(row.get("full_name")))
    if "unit_code" in columns:
        unit = clean(row["unit_code"])
        values["unit"] = parse_unit_code(unit) if unit else None
    if "title" in columns:
        values["title"] = parse_optional_text(row["title"], "title", TITLE_MAX_LENGTH)
    if "phone" in columns:
        values["phone_number"] = parse_phone(row["phone"])
    if "status" in columns:
        values["status"] = parse_status(row["status"])
    if "roles" in columns:
        values["roles"] = parse_roles(row["roles"])
    return values


_USER_FIELDS = (
    "email",
    "family_name",
    "middle_name",
    "given_name",
    "unit_id",
    "title",
    "phone_number",
    "status",
    "roles",
)


def import_users(
    table: CsvTable, *, actor: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportSummary:
    """Create or update users from rows with the USER_COLUMNS; passwords are never touched.

    New users get no password (password_hash NULL): they cannot sign in until one is set.
    """
    summary = start("users", table, dry_run)
    unit_ids = {u.code: u.id for u in records.load_units()}
    users = {u.id: u for u in records.load_users()}
    addresses_of: dict[int, list[records.AddressRecord]] = defaultdict(list)
    owner: dict[str, int] = {}
    for a in records.load_addresses():
        addresses_of[a.user_id].append(a)
        owner[a.address] = a.user_id
    primary_of = {u.id: u.email for u in users.values()}
    columns = set(table.columns)
    ticker = Ticker(progress)
    now = utcnow()

    line_of_address: dict[str, int] = {}
    line_of_user: dict[int, int] = {}
    new_users: list[dict[str, Any]] = []
    user_updates: list[dict[str, Any]] = []
    disabled_ids: list[int] = []
    address_deletes: list[int] = []
    address_updates: list[dict[str, Any]] = []
    address_inserts: list[dict[str, Any]] = []  # user_id < 0: the new user -user_id - 1

    for line, row in table.rows:
        ticker.tick()
        try:
            values = _parse_user_row(row, columns)
        except FieldError as exc:
            summary.reject(line, str(exc))
            continue
        unit = values.get("unit")
        if unit is not None and unit not in unit_ids:
            summary.reject(line, f"unknown unit {unit}")
            continue
        listed = unique_addresses(values["email"], values.get("aliases", []))
        keys = [normalize_email(a) for a in listed]
        repeated = next((k for k in keys if k in line_of_address), None)
        if repeated:
            summary.reject(
                line, f"duplicate in file: {repeated} is also on line {line_of_address[repeated]}"
            )
            continue
        owners = [owner[k] for k in keys if k in owner]
        uid = owners[0] if owners else None
        clash = next((k for k in keys if owner.get(k, uid) != uid), None)
        if clash:
            summary.reject(
                line,
                f"address {clash} already belongs to another user ({primary_of[owner[clash]]})",
            )
            continue
        if uid is not None and uid in line_of_user:
            summary.reject(line, f"duplicate in file: same user as line {line_of_user[uid]}")
            continue
        line_of_address.update(dict.fromkeys(keys, line))
        family, middle, given = values["names"]

        if uid is None:
            index = len(new_users)
            new_users.append(
                {
                    "sub": new_sub(),
                    "email": values["email"],
                    "family_name": family,
                    "middle_name": middle,
                    "given_name": given,
                    "unit_id": unit_ids[unit] if unit else None,
                    "title": values.get("title"),
                    "phone_number": values.get("phone_number"),
                    "status": values.get("status", USER_ACTIVE),
                    "roles": values.get("roles", []),
                    "password_hash": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for written, key in zip(listed, keys, strict=True):
                address_inserts.append({"user_id": -index - 1, "email": written, "address": key})
                owner[key] = -index - 1
            primary_of[-index - 1] = values["email"]
            summary.created += 1
            continue

        line_of_user[uid] = line
        current = users[uid]
        stored = {a.address: a for a in addresses_of[uid]}
        if "aliases" in values:
            final = listed
        else:  # no aliases column: keep every stored address, the file's primary first
            final = unique_addresses(values["email"], [a.email for a in addresses_of[uid]])
        target = {
            "email": values["email"],
            "family_name": family,
            "middle_name": middle,
            "given_name": given,
            "unit_id": (unit_ids[unit] if unit else None) if "unit" in values else current.unit_id,
            "title": values.get("title") if "title" in values else current.title,
            "phone_number": values.get("phone_number", current.phone_number),
            "status": values.get("status", current.status),
            "roles": values.get("roles", current.roles),
        }
        final_keys = {normalize_email(a): a for a in final}
        gone = [a for key, a in stored.items() if key not in final_keys]
        respelled = [
            {"id": stored[key].id, "email": written}
            for key, written in final_keys.items()
            if key in stored and stored[key].email != written
        ]
        added = [(key, written) for key, written in final_keys.items() if key not in stored]
        if all(getattr(current, f) == target[f] for f in _USER_FIELDS) and not (
            gone or respelled or added
        ):
            summary.unchanged += 1
            continue
        user_updates.append({"id": uid, **target, "updated_at": now})
        address_deletes.extend(a.id for a in gone)
        address_updates.extend(respelled)
        for a in gone:
            owner.pop(a.address, None)
        for key, written in added:
            address_inserts.append({"user_id": uid, "email": written, "address": key})
            owner[key] = uid
        primary_of[uid] = values["email"]
        if current.status != USER_DISABLED and target["status"] == USER_DISABLED:
            summary.disabled += 1
            disabled_ids.append(uid)
        else:
            summary.updated += 1
    ticker.flush()

    def write() -> None:
        # Deletes first, so an address can move from one user to another in the same run.
        records.delete_addresses(address_deletes)
        records.update_addresses(address_updates)
        records.update_users(user_updates)
        new_ids = records.insert_users(new_users)
        for row in address_inserts:
            if row["user_id"] < 0:
                row["user_id"] = new_ids[-row["user_id"] - 1]
        records.insert_addresses(address_inserts)
        end_sign_ins(disabled_ids)

    return finish(summary, actor, write)
