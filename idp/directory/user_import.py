"""The users import: accounts from CSV rows, matched by any of their addresses.

See importer.py for the plan both imports follow. Users are matched by any of their addresses
(primary or alias), so a re-import with a changed primary address updates the same user and
keeps their `sub`. Without a password_hash column passwords are never touched: new users get
none and cannot sign in until one is set. With it, each row gives the hash the mail system
stores (idp.directory.legacy), kept for new users and for stored users without a password
(a person who already has one here keeps it: a re-import never brings back a legacy hash
that their first sign-in replaced).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
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
from idp.directory.legacy import imported_hash
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
    "password_hash",
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
    if "password_hash" in columns:
        values["password_hash"] = parse_password_hash(row["password_hash"])
    return values


def parse_password_hash(value: str | None) -> str:
    """A hash as the mail system stores it (idp.directory.legacy), in the form kept."""
    try:
        return imported_hash(value or "")
    except ValueError as exc:
        raise FieldError(f"password hash: {exc}") from None


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
    """Create or update users from rows with the USER_COLUMNS.

    Without a password_hash column, new users get no password (password_hash NULL): they
    cannot sign in until one is set.
    """
    summary = start("users", table, dry_run)
    directory = StoredUsers.load()
    columns = set(table.columns)
    ticker = Ticker(progress)
    plan = UserPlan(now=utcnow())
    # Row by row: whether a row matches depends on the addresses the rows before it take or
    # give up (an alias may move from one user to another in the same file).
    for line, row in table.rows:
        ticker.tick()
        try:
            match = match_user(line, row, columns, directory)
        except FieldError as exc:
            summary.reject(line, str(exc))
            continue
        plan_user(match, directory, plan)
    ticker.flush()
    return finish(summary, actor, plan)


@dataclass
class StoredUsers:
    """The users and addresses as stored, kept up to date with the plan as rows are planned,
    and the lines of the file that named each address and each stored user."""

    unit_ids: dict[str, int]
    users: dict[int, records.UserRecord]
    addresses_of: dict[int, list[records.AddressRecord]]
    # Who each address belongs to; a negative id -i - 1 is the i-th new user of the plan.
    owner: dict[str, int]
    primary_of: dict[int, str]
    line_of_address: dict[str, int] = field(default_factory=dict)
    line_of_user: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls) -> StoredUsers:
        unit_ids = {u.code: u.id for u in records.load_units()}
        users = {u.id: u for u in records.load_users()}
        addresses_of: dict[int, list[records.AddressRecord]] = defaultdict(list)
        owner: dict[str, int] = {}
        for a in records.load_addresses():
            addresses_of[a.user_id].append(a)
            owner[a.address] = a.user_id
        primary_of = {u.id: u.email for u in users.values()}
        return cls(unit_ids, users, addresses_of, owner, primary_of)


@dataclass
class UserMatch:
    """A usable row and the stored user it is about (None: a new user)."""

    line: int
    values: dict[str, Any]
    # The row's addresses as written, primary first, and their normal forms.
    listed: list[str]
    keys: list[str]
    uid: int | None


def match_user(
    line: int, row: dict[str, str], columns: set[str], directory: StoredUsers
) -> UserMatch:
    """The row's values and its user, found by any of its addresses; FieldError if the row
    cannot be used. Records the row's addresses and user as taken by this line."""
    values = _parse_user_row(row, columns)
    unit = values.get("unit")
    if unit is not None and unit not in directory.unit_ids:
        raise FieldError(f"unknown unit {unit}")
    listed = unique_addresses(values["email"], values.get("aliases", []))
    keys = [normalize_email(a) for a in listed]
    uid = _owner_of(keys, directory)
    directory.line_of_address.update(dict.fromkeys(keys, line))
    if uid is not None:
        directory.line_of_user[uid] = line
    return UserMatch(line, values, listed, keys, uid)


def _owner_of(keys: list[str], directory: StoredUsers) -> int | None:
    """The one user (stored or planned) owning any of the addresses, or None."""
    seen = directory.line_of_address
    repeated = next((k for k in keys if k in seen), None)
    if repeated:
        raise FieldError(f"duplicate in file: {repeated} is also on line {seen[repeated]}")
    owner = directory.owner
    owners = [owner[k] for k in keys if k in owner]
    uid = owners[0] if owners else None
    clash = next((k for k in keys if owner.get(k, uid) != uid), None)
    if clash:
        raise FieldError(
            f"address {clash} already belongs to another user "
            f"({directory.primary_of[owner[clash]]})"
        )
    if uid is not None and uid in directory.line_of_user:
        raise FieldError(f"duplicate in file: same user as line {directory.line_of_user[uid]}")
    return uid


@dataclass
class UserPlan:
    """What an import of users will write: new users and their addresses, changed users,
    addresses removed, re-spelled or added; the users it disables lose their sign-ins."""

    now: datetime
    new_users: list[dict[str, Any]] = field(default_factory=list)
    # Changed stored users, in the order of the file.
    user_updates: list[dict[str, Any]] = field(default_factory=list)
    # Among them, those the import disables.
    disabled_ids: list[int] = field(default_factory=list)
    address_deletes: list[int] = field(default_factory=list)
    address_updates: list[dict[str, Any]] = field(default_factory=list)
    address_inserts: list[dict[str, Any]] = field(default_factory=list)  # user_id < 0: new
    unchanged: int = 0

    @property
    def created(self) -> int:
        return len(self.new_users)

    @property
    def updated(self) -> int:
        return len(self.user_updates) - len(self.disabled_ids)

    @property
    def disabled(self) -> int:
        return len(self.disabled_ids)

    def apply(self) -> None:
        records.write_changes(
            new_users=self.new_users,
            user_updates=self.user_updates,
            address_deletes=self.address_deletes,
            address_updates=self.address_updates,
            address_inserts=self.address_inserts,
        )
        end_sign_ins(self.disabled_ids)


def plan_user(match: UserMatch, directory: StoredUsers, plan: UserPlan) -> None:
    if match.uid is None:
        _plan_new_user(match, directory, plan)
    else:
        _plan_update(match, match.uid, directory, plan)


def _plan_new_user(match: UserMatch, directory: StoredUsers, plan: UserPlan) -> None:
    values = match.values
    unit = values.get("unit")
    family, middle, given = values["names"]
    new_id = -len(plan.new_users) - 1
    plan.new_users.append(
        {
            "sub": new_sub(),
            "email": values["email"],
            "family_name": family,
            "middle_name": middle,
            "given_name": given,
            "unit_id": directory.unit_ids[unit] if unit else None,
            "title": values.get("title"),
            "phone_number": values.get("phone_number"),
            "status": values.get("status", USER_ACTIVE),
            "roles": values.get("roles", []),
            "password_hash": values.get("password_hash"),
            "created_at": plan.now,
            "updated_at": plan.now,
        }
    )
    for written, key in zip(match.listed, match.keys, strict=True):
        plan.address_inserts.append({"user_id": new_id, "email": written, "address": key})
        directory.owner[key] = new_id
    directory.primary_of[new_id] = values["email"]


def _target(
    values: dict[str, Any], current: records.UserRecord, unit_ids: dict[str, int]
) -> dict[str, Any]:
    """The user's fields after the import: a column missing from the file keeps its value."""
    family, middle, given = values["names"]
    unit = values.get("unit")
    return {
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


@dataclass
class AddressChanges:
    gone: list[records.AddressRecord]
    respelled: list[dict[str, Any]]
    added: list[tuple[str, str]]  # (address, as written)

    def __bool__(self) -> bool:
        return bool(self.gone or self.respelled or self.added)


def _address_changes(match: UserMatch, stored_list: list[records.AddressRecord]) -> AddressChanges:
    stored = {a.address: a for a in stored_list}
    if "aliases" in match.values:
        final = match.listed
    else:  # no aliases column: keep every stored address, the file's primary first
        final = unique_addresses(match.values["email"], [a.email for a in stored_list])
    final_keys = {normalize_email(a): a for a in final}
    return AddressChanges(
        gone=[a for key, a in stored.items() if key not in final_keys],
        respelled=[
            {"id": stored[key].id, "email": written}
            for key, written in final_keys.items()
            if key in stored and stored[key].email != written
        ],
        added=[(key, written) for key, written in final_keys.items() if key not in stored],
    )


def _plan_update(match: UserMatch, uid: int, directory: StoredUsers, plan: UserPlan) -> None:
    current = directory.users[uid]
    target = _target(match.values, current, directory.unit_ids)
    addresses = _address_changes(match, directory.addresses_of[uid])
    if "password_hash" in match.values and not current.has_password:
        target["password_hash"] = match.values["password_hash"]
        current.has_password = True
    elif all(getattr(current, f) == target[f] for f in _USER_FIELDS) and not addresses:
        plan.unchanged += 1
        return
    plan.user_updates.append({"id": uid, **target, "updated_at": plan.now})
    plan.address_deletes.extend(a.id for a in addresses.gone)
    plan.address_updates.extend(addresses.respelled)
    for a in addresses.gone:
        directory.owner.pop(a.address, None)
    for key, written in addresses.added:
        plan.address_inserts.append({"user_id": uid, "email": written, "address": key})
        directory.owner[key] = uid
    directory.primary_of[uid] = match.values["email"]
    if current.status != USER_DISABLED and target["status"] == USER_DISABLED:
        plan.disabled_ids.append(uid)
