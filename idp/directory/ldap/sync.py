"""`idp directory sync`: make the directory mirror the LDAP source, idempotently.

The run reads every entry first (paged), then plans in memory against what is stored, then
applies the plan in the caller's one transaction. So a server that goes away in the middle
of the search leaves nothing written (SourceUnavailable is raised before any write), and
a database that refuses the write leaves the directory as it was.

Accounts are matched by the source's stable identifier (entryUUID, objectGUID) kept in
`users.external_id`: a renamed entry or a changed address is the same person, with the same
`sub`. An account not yet linked to the source (made by a CSV import, or by hand) is linked
by one of its addresses the first time. Nothing is deleted: people gone from the source, or
locked there, are disabled (their sessions end and their tokens are revoked through the
directory's `sign_ins_withdrawn` hook), and enabled again when the source lets them sign in
again, unless an administrator disabled them here.

Password hashes (LDAP_SYNC_PASSWORD_HASHES, the map's `password_hash`: userPassword): an
account without a password here is given the hash its entry holds, as the CSV import does
(legacy.imported_hash), so people sign in with their mail password; the first sign-in replaces
it with argon2id. A password set here (argon2id: the person signed in, or an administrator
set one) is never replaced, so a re-sync cannot bring a legacy hash back. A hash changed in
the source replaces the imported one of a person who has not signed in here yet: it is the
password they now type into their mail. A hash we do not take is a note in the summary; the
person is mirrored all the same, without a password. No hash is ever written to the summary,
the output or the audit log.

A run that would disable more than LDAP_SYNC_MAX_DISABLE_PERCENT of the active accounts
stops before writing anything (SyncRefused) unless forced: a source that answers little or
nothing during an outage must not disable the province.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idp import audit
from idp.directory import legacy, records
from idp.directory.fields import FieldError
from idp.directory.ldap.attributes import SourceEntry
from idp.directory.ldap.config import LdapSettings
from idp.directory.ldap.entries import (
    Stored,
    SyncSummary,
    convert_entries,
    drop_duplicates,
    match_entries,
)
from idp.directory.ldap.source import RawEntry
from idp.directory.ldap.store import SOURCE_LDAP, MirrorRecord, count_active_users
from idp.directory.models import USER_ACTIVE, USER_DISABLED, new_sub
from idp.directory.service import end_sign_ins
from idp.errors import IdpError
from idp.extensions import utcnow

SYNC_ACTION = "directory.sync"
# Rejections (and notes) kept in the audit event (the command prints them all).
AUDIT_REJECTIONS = 50
# Pieces of a hash at least this long are looked for in an error before it is shown.
HASH_PIECE_LENGTH = 6


class SyncRefused(IdpError):
    """The run would disable too many accounts; nothing was written (--force to go on)."""

    def __init__(self, summary: SyncSummary, message: str) -> None:
        self.summary = summary
        super().__init__(message)


@dataclass
class SyncPlan:
    now: datetime
    new_users: list[dict[str, Any]] = field(default_factory=list)
    user_updates: list[dict[str, Any]] = field(default_factory=list)
    disabled_ids: list[int] = field(default_factory=list)
    address_deletes: list[int] = field(default_factory=list)
    address_updates: list[dict[str, Any]] = field(default_factory=list)
    address_inserts: list[dict[str, Any]] = field(default_factory=list)

    def apply(self) -> None:
        records.write_changes(
            new_users=self.new_users,
            user_updates=self.user_updates,
            address_deletes=self.address_deletes,
            address_updates=self.address_updates,
            address_inserts=self.address_inserts,
        )
        end_sign_ins(self.disabled_ids)


# -- planning ------------------------------------------------------------------------------


def unit_of(entry: SourceEntry, settings: LdapSettings, stored: Stored) -> int | None:
    """The unit's id from the OU path or attribute value, through LDAP_UNIT_MAP."""
    key = entry.unit_key
    if key is None:
        return None
    nearest = key.rsplit("/", 1)[-1]
    code = settings.unit_map.get(key) or settings.unit_map.get(nearest) or nearest
    if code not in stored.unit_ids:
        raise FieldError(f"unknown unit {code} (from {key!r}; see IDP_LDAP_UNIT_MAP)")
    return stored.unit_ids[code]


def _hash_problem(error: ValueError, value: str) -> str:
    """The reason a hash was not taken, never showing the hash (nor a piece of it)."""
    reason = str(error)
    pieces = [value, *(p for p in value.replace("}", "$").split("$") if p)]
    if any(len(p) >= HASH_PIECE_LENGTH and p in reason for p in pieces):
        return "malformed password hash"
    return reason


def source_password(
    entry: SourceEntry, link: MirrorRecord | None, summary: SyncSummary
) -> str | None:
    """The hash to store from the entry, or None to leave the account's password as it is:
    a password set here (argon2id) is never replaced; an imported one that nobody signed in
    with yet follows the source."""
    if link is not None and link.has_password and link.legacy_hash is None:
        return None
    if entry.password_note:
        summary.notes.append((entry.dn, entry.password_note))
        return None
    if entry.password_hash is None:
        return None
    try:
        value = legacy.imported_hash(entry.password_hash)
    except ValueError as exc:
        reason = _hash_problem(exc, entry.password_hash)
        summary.notes.append((entry.dn, f"password hash not taken: {reason}"))
        return None
    if link is not None and value == link.legacy_hash:
        return None
    return value


def _describe_password(who: str, value: str | None, summary: SyncSummary) -> None:
    """Counted and named by its scheme only ("password x@y: ssha hash from the source")."""
    if value is None:
        return
    summary.passwords_set += 1
    scheme = legacy.legacy_scheme(value) or "argon2"
    summary.changes.append(f"password {who}: {scheme} hash from the source")


def _new_user(
    entry: SourceEntry, unit_id: int | None, plan: SyncPlan, summary: SyncSummary
) -> None:
    family, middle, given = entry.names
    password_hash = source_password(entry, None, summary)
    new_id = -len(plan.new_users) - 1
    plan.new_users.append(
        {
            "sub": new_sub(),
            "email": entry.email,
            "family_name": family,
            "middle_name": middle,
            "given_name": given,
            "unit_id": unit_id,
            "title": entry.title,
            "phone_number": entry.phone,
            "status": USER_DISABLED if entry.locked else USER_ACTIVE,
            "roles": [],
            "password_hash": password_hash,
            "must_change_password": False,
            "source": SOURCE_LDAP,
            "external_id": entry.external_id,
            "disabled_by_source": entry.locked,
            "created_at": plan.now,
            "updated_at": plan.now,
        }
    )
    for written, key in zip(entry.addresses, entry.keys, strict=True):
        plan.address_inserts.append({"user_id": new_id, "email": written, "address": key})
    summary.created += 1
    summary.changes.append(
        f"create {entry.email} ({' '.join(p for p in entry.names if p)})"
        + (", locked: disabled" if entry.locked else "")
    )
    _describe_password(entry.email, password_hash, summary)


def _status(
    entry: SourceEntry, current: records.UserRecord, link: MirrorRecord
) -> tuple[str, bool]:
    """(status, disabled_by_source) after the sync."""
    if entry.locked:
        if current.status == USER_ACTIVE:
            return USER_DISABLED, True
        return current.status, link.disabled_by_source
    if current.status == USER_DISABLED and link.disabled_by_source:
        return USER_ACTIVE, False
    return current.status, link.disabled_by_source if current.status == USER_DISABLED else False


_COMPARED = ("email", "family_name", "middle_name", "given_name", "phone_number", "title")


def _plan_addresses(entry: SourceEntry, uid: int, stored: Stored, plan: SyncPlan) -> list[str]:
    have = {a.address: a for a in stored.addresses_of.get(uid, [])}
    want = dict(zip(entry.keys, entry.addresses, strict=True))
    notes = []
    for key, row in have.items():
        if key not in want:
            plan.address_deletes.append(row.id)
            notes.append(f"-{key}")
        elif row.email != want[key]:
            plan.address_updates.append({"id": row.id, "email": want[key]})
    for key, written in want.items():
        if key not in have:
            plan.address_inserts.append({"user_id": uid, "email": written, "address": key})
            notes.append(f"+{key}")
    return notes


def _plan_update(
    entry: SourceEntry,
    uid: int,
    unit_id: int | None,
    settings: LdapSettings,
    stored: Stored,
    plan: SyncPlan,
    summary: SyncSummary,
) -> None:
    current, link = stored.users[uid], stored.mirror[uid]
    family, middle, given = entry.names
    target: dict[str, Any] = {
        "email": entry.email,
        "family_name": family,
        "middle_name": middle,
        "given_name": given,
        "phone_number": entry.phone,
        "title": entry.title,
        "unit_id": current.unit_id if settings.unit_from == "none" else unit_id,
        "source": SOURCE_LDAP,
        "external_id": entry.external_id,
    }
    target["status"], target["disabled_by_source"] = _status(entry, current, link)
    changed = [f for f in _COMPARED if getattr(current, f) != target[f]]
    address_notes = _plan_addresses(entry, uid, stored, plan)
    moved = current.unit_id != target["unit_id"]
    relinked = (link.source, link.external_id) != (SOURCE_LDAP, entry.external_id)
    status_changed = (current.status, link.disabled_by_source) != (
        target["status"],
        target["disabled_by_source"],
    )
    password_hash = source_password(entry, link, summary)
    if password_hash is not None:
        target["password_hash"] = password_hash
    if not (changed or address_notes or moved or relinked or status_changed or password_hash):
        summary.unchanged += 1
        return
    plan.user_updates.append({"id": uid, **target, "updated_at": plan.now})
    _describe_password(current.email, password_hash, summary)
    _describe_update(entry, current, target, changed, address_notes, stored, summary)
    if moved or changed or address_notes or relinked:
        summary.updated += 1
    if current.status == USER_ACTIVE and target["status"] == USER_DISABLED:
        plan.disabled_ids.append(uid)
    if current.status == USER_DISABLED and target["status"] == USER_ACTIVE:
        summary.enabled += 1


def _describe_update(
    entry: SourceEntry,
    current: records.UserRecord,
    target: dict[str, Any],
    changed: list[str],
    address_notes: list[str],
    stored: Stored,
    summary: SyncSummary,
) -> None:
    who = current.email
    if changed:
        summary.changes.append(f"update {who}: {', '.join(changed)}")
    if current.unit_id != target["unit_id"]:
        summary.moved += 1
        before = stored.unit_codes.get(current.unit_id or 0, "-")
        after = stored.unit_codes.get(target["unit_id"] or 0, "-")
        summary.changes.append(f"move {who}: {before} -> {after}")
    if address_notes:
        summary.aliases_added += sum(n.startswith("+") for n in address_notes)
        summary.aliases_removed += sum(n.startswith("-") for n in address_notes)
        summary.changes.append(f"addresses {who}: {' '.join(address_notes)}")
    if current.status == USER_ACTIVE and target["status"] == USER_DISABLED:
        summary.changes.append(f"disable {who} (locked in the source)")
    elif current.status == USER_DISABLED and target["status"] == USER_ACTIVE:
        summary.changes.append(f"enable {who} (active in the source again)")
    if stored.mirror[current.id].source is None:
        summary.changes.append(f"link {who} to {entry.dn}")


def plan_gone(seen: set[str], stored: Stored, plan: SyncPlan, summary: SyncSummary) -> None:
    """Mirrored accounts whose entry is no longer in the source: disabled, never deleted."""
    for uid, link in stored.mirror.items():
        user = stored.users[uid]
        if (
            link.source == SOURCE_LDAP
            and link.external_id not in seen
            and user.status == USER_ACTIVE
        ):
            plan.user_updates.append(
                {
                    "id": uid,
                    "status": USER_DISABLED,
                    "disabled_by_source": True,
                    "updated_at": plan.now,
                }
            )
            plan.disabled_ids.append(uid)
            summary.changes.append(f"disable {user.email} (gone from the source)")


def check_threshold(
    plan: SyncPlan, settings: LdapSettings, summary: SyncSummary, *, force: bool
) -> None:
    """Refuse a run that disables more than the allowed share of the active accounts."""
    to_disable = len(plan.disabled_ids)
    if force or not to_disable:
        return
    active = count_active_users()
    allowed = active * settings.max_disable_percent / 100
    if to_disable > allowed:
        raise SyncRefused(
            summary,
            f"the sync would disable {to_disable} of {active} active accounts, more than "
            f"{settings.max_disable_percent:g} % (IDP_LDAP_SYNC_MAX_DISABLE_PERCENT); "
            f"nothing was written. Check the source, then run again with --force",
        )


def sync_directory(
    raw_entries: Iterable[RawEntry],
    settings: LdapSettings,
    *,
    actor: str,
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> SyncSummary:
    """Plan and (unless `dry_run`) apply the sync in the caller's transaction; one audit
    event. Raises SyncRefused before writing anything when too many would be disabled."""
    summary = SyncSummary(source=f"{settings.url}/{settings.base_dn}", dry_run=dry_run)
    entries, rejected_ids = convert_entries(raw_entries, settings, summary)
    stored = Stored.load()
    entries = drop_duplicates(entries, summary, rejected_ids)
    entries, uid_of = match_entries(entries, stored, summary, rejected_ids)
    plan = SyncPlan(now=now or utcnow())
    for entry in entries:
        try:
            unit_id = unit_of(entry, settings, stored) if settings.unit_from != "none" else None
        except FieldError as exc:
            summary.rejected.append((entry.dn, str(exc)))
            rejected_ids.add(entry.external_id)
            continue
        uid = uid_of[entry.dn]
        if uid is None:
            _new_user(entry, unit_id, plan, summary)
        else:
            _plan_update(entry, uid, unit_id, settings, stored, plan, summary)
    plan_gone({e.external_id for e in entries} | rejected_ids, stored, plan, summary)
    summary.disabled = len(plan.disabled_ids)
    try:
        check_threshold(plan, settings, summary, force=force)
    except SyncRefused as exc:
        if not dry_run:
            raise
        # A dry run shows what a forced run would do, and that a real one would stop.
        summary.refusal = str(exc)
    if not dry_run:
        plan.apply()
        record_run(summary, actor)
    return summary


def record_run(
    summary: SyncSummary, actor: str, *, outcome: str | None = None, error: str | None = None
) -> None:
    """The run's audit event: success, partial (entries rejected), refused or failure."""
    if outcome is None:
        outcome = "partial" if summary.rejected else "success"
    detail: dict[str, Any] = {
        **summary.counts(),
        "rejections": [{"dn": dn, "reason": r} for dn, r in summary.rejected[:AUDIT_REJECTIONS]],
        "notes": [{"dn": dn, "note": n} for dn, n in summary.notes[:AUDIT_REJECTIONS]],
    }
    if error:
        detail["error"] = error
    audit.record(SYNC_ACTION, actor=actor, subject=summary.source, outcome=outcome, detail=detail)
