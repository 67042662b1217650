"""The source's entries checked and matched with the stored accounts, and the run's summary.

`convert_entries` turns the raw entries into accounts (attributes.entry_from_ldap) and
keeps the identifiers of those it rejects (their people are not "gone"); `Stored` is the
directory as stored, in dictionaries; `drop_duplicates` and `match_entries` find each
entry's account and reject entries whose addresses another entry or account holds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from idp.directory import guards, records
from idp.directory.fields import FieldError
from idp.directory.ldap.attributes import (
    SourceEntry,
    entry_from_ldap,
    external_id_of,
    lower_keys,
)
from idp.directory.ldap.config import LdapSettings
from idp.directory.ldap.source import RawEntry
from idp.directory.ldap.store import SOURCE_LDAP, MirrorRecord, load_mirror


@dataclass
class SyncSummary:
    source: str
    dry_run: bool
    entries: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    disabled: int = 0
    enabled: int = 0
    unchanged: int = 0
    aliases_added: int = 0
    aliases_removed: int = 0
    # Accounts given the password hash their entry holds (people who never signed in here).
    passwords_set: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    # (dn, note) about an entry taken without something it holds (a hash we do not take).
    notes: list[tuple[str, str]] = field(default_factory=list)
    # One line per difference, for --dry-run (and --json).
    changes: list[str] = field(default_factory=list)
    # A dry run past the threshold: why a real run would stop.
    refusal: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.created or self.updated or self.disabled or self.enabled or self.passwords_set
        )

    def counts(self) -> dict[str, int]:
        return {
            "entries": self.entries,
            "created": self.created,
            "updated": self.updated,
            "moved": self.moved,
            "disabled": self.disabled,
            "enabled": self.enabled,
            "unchanged": self.unchanged,
            "aliases_added": self.aliases_added,
            "aliases_removed": self.aliases_removed,
            "passwords_set": self.passwords_set,
            "rejected": len(self.rejected),
            "notes": len(self.notes),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            **self.counts(),
            "rejections": [{"dn": dn, "reason": reason} for dn, reason in self.rejected],
            "notes": [{"dn": dn, "note": note} for dn, note in self.notes],
            "changes": self.changes,
            "changed": self.changed,
            "refusal": self.refusal,
        }


@dataclass
class Stored:
    """The directory as stored, in dictionaries: users, their addresses, units, links."""

    users: dict[int, records.UserRecord]
    addresses_of: dict[int, list[records.AddressRecord]]
    owner: dict[str, int]
    unit_ids: dict[str, int]
    unit_codes: dict[int, str]
    mirror: dict[int, MirrorRecord]
    by_external_id: dict[str, int]

    @classmethod
    def load(cls) -> Stored:
        units = records.load_units()
        addresses_of: dict[int, list[records.AddressRecord]] = defaultdict(list)
        owner: dict[str, int] = {}
        for a in records.load_addresses():
            addresses_of[a.user_id].append(a)
            owner[a.address] = a.user_id
        mirror = load_mirror()
        return cls(
            users={u.id: u for u in records.load_users()},
            addresses_of=addresses_of,
            owner=owner,
            unit_ids={u.code: u.id for u in units},
            unit_codes={u.id: u.code for u in units},
            mirror=mirror,
            by_external_id={
                m.external_id: uid
                for uid, m in mirror.items()
                if m.source == SOURCE_LDAP and m.external_id
            },
        )

    def is_linked(self, uid: int) -> bool:
        return self.mirror[uid].source == SOURCE_LDAP


# -- reading entries ------------------------------------------------------------------------


def convert_entries(
    raw_entries: Iterable[RawEntry], settings: LdapSettings, summary: SyncSummary
) -> tuple[list[SourceEntry], set[str]]:
    """The usable entries, and the identifiers of those rejected (their accounts are not
    "gone": a bad entry must not disable its person)."""
    entries: list[SourceEntry] = []
    rejected_ids: set[str] = set()
    amap = settings.attributes
    for raw in raw_entries:
        summary.entries += 1
        try:
            entries.append(
                entry_from_ldap(
                    raw.dn,
                    raw.attributes,
                    amap,
                    base_dn=settings.base_dn,
                    unit_from=settings.unit_from,
                )
            )
        except FieldError as exc:
            summary.rejected.append((raw.dn, str(exc)))
            # A bad entry still names its person: their account is not "gone".
            rejected_ids.add(external_id_of(lower_keys(raw.attributes), amap))
    entries.sort(key=lambda e: e.dn.lower())
    rejected_ids.discard("")
    return entries, rejected_ids


# -- matching ------------------------------------------------------------------------------


def _reject(
    entries: list[SourceEntry],
    bad: dict[str, str],
    summary: SyncSummary,
    rejected_ids: set[str],
) -> list[SourceEntry]:
    kept = []
    for entry in entries:
        if entry.dn in bad:
            summary.rejected.append((entry.dn, bad[entry.dn]))
            rejected_ids.add(entry.external_id)
        else:
            kept.append(entry)
    return kept


def drop_duplicates(
    entries: list[SourceEntry], summary: SyncSummary, rejected_ids: set[str]
) -> list[SourceEntry]:
    """Entries sharing an address or an identifier are all rejected: which of two entries
    owns an address is for the mail system's administrators to say, not the page order."""
    address_count = Counter(key for e in entries for key in e.keys)
    id_count = Counter(e.external_id for e in entries)
    bad: dict[str, str] = {}
    for entry in entries:
        shared = next((k for k in entry.keys if address_count[k] > 1), None)
        if shared:
            others = [e.dn for e in entries if shared in e.keys and e.dn != entry.dn]
            bad[entry.dn] = f"address {shared} is also on {others[0]}"
        elif id_count[entry.external_id] > 1:
            bad[entry.dn] = f"identifier {entry.external_id} is on another entry too"
    return _reject(entries, bad, summary, rejected_ids)


def _account_of(entry: SourceEntry, stored: Stored) -> int | None:
    """The stored account an entry describes: by identifier, else the one account not yet
    linked that has one of its addresses (FieldError when two such accounts do)."""
    uid = stored.by_external_id.get(entry.external_id)
    if uid is not None:
        return uid
    owners = {stored.owner[k] for k in entry.keys if k in stored.owner}
    unlinked = sorted(o for o in owners if not stored.is_linked(o))
    if len(unlinked) > 1:
        raise FieldError("its addresses belong to two accounts")
    return unlinked[0] if unlinked else None


def _adoption_refusal(uid: int, stored: Stored, guard_reasons: list[str]) -> str:
    """Why an entry may not adopt the unlinked account `uid` by address ("" if it may)."""
    mirror = stored.mirror[uid]
    reasons = list(guard_reasons)
    if mirror.source is not None or mirror.external_id:
        reasons.append(f"mirrored from {mirror.source or '?'}:{mirror.external_id or '?'}")
    return ", ".join(reasons)


def _refuse_adoptions(
    entries: list[SourceEntry], uid_of: dict[str, int | None], stored: Stored, bad: dict
) -> None:
    """Entries that would adopt, by address, an account that is not a plain imported one
    (roles, unit administration, made through an upstream, mirrored from elsewhere:
    idp.directory.guards) are rejected: taking it over would hand the source's
    administrators a privileged or foreign account. One query per guard for the run."""
    adopting = {
        e.dn: uid_of[e.dn]
        for e in entries
        if uid_of.get(e.dn) is not None and not stored.is_linked(uid_of[e.dn])
    }
    reasons = guards.not_adoptable(set(adopting.values()))
    for entry in entries:
        uid = adopting.get(entry.dn)
        refusal = _adoption_refusal(uid, stored, reasons[uid]) if uid is not None else ""
        if refusal:
            key = next(k for k in entry.keys if stored.owner.get(k) == uid)
            bad[entry.dn] = (
                f"address {key} belongs to an account the sync may not adopt ({refusal}); "
                "nothing was changed on it"
            )


def _address_taken(
    entry: SourceEntry, uid: int | None, described: set[int | None], stored: Stored
) -> str | None:
    """The first of the entry's addresses held by an account that keeps it, or None."""
    for key in entry.keys:
        owner = stored.owner.get(key)
        if owner is not None and owner != uid and owner not in described:
            return key
    return None


def match_entries(
    entries: list[SourceEntry], stored: Stored, summary: SyncSummary, rejected_ids: set[str]
) -> tuple[list[SourceEntry], dict[str, int | None]]:
    """Each entry's account (None: a new one); entries whose addresses belong to somebody
    else, or that describe the same account as another entry, are rejected."""
    uid_of: dict[str, int | None] = {}
    bad: dict[str, str] = {}
    for entry in entries:
        try:
            uid_of[entry.dn] = _account_of(entry, stored)
        except FieldError as exc:
            bad[entry.dn] = str(exc)
    _refuse_adoptions(entries, uid_of, stored, bad)
    claims = Counter(uid for uid in uid_of.values() if uid is not None)
    for dn, uid in uid_of.items():
        if uid is not None and claims[uid] > 1:
            bad[dn] = "another entry describes the same account"
    entries = _reject(entries, bad, summary, rejected_ids)
    # An address may move to this entry's account only from an account whose own entry is
    # kept (and, having no duplicates, gives it up); repeat, as a rejection may undo a move.
    while True:
        described = {uid_of[e.dn] for e in entries} - {None}
        bad = {}
        for entry in entries:
            taken = _address_taken(entry, uid_of[entry.dn], described, stored)
            if taken:
                bad[entry.dn] = f"address {taken} already belongs to another account"
        if not bad:
            return entries, uid_of
        entries = _reject(entries, bad, summary, rejected_ids)
