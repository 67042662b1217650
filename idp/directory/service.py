"""Administrative changes to the directory, one user or unit at a time, each audited.

Functions take plain values and the actor ("cli:<os user>", an administrator's sub, ...),
raise our domain exceptions (NotFound, Conflict, ValidationFailed) and commit on success;
on failure nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from idp import audit
from idp.directory import hooks, records, tokens
from idp.directory.fields import (
    TITLE_MAX_LENGTH,
    FieldError,
    check_name_parts,
    parse_email,
    parse_optional_text,
    parse_phone,
    parse_roles,
    parse_unit_code,
    parse_unit_kind,
    parse_unit_name,
    split_full_name,
    unique_addresses,
)
from idp.directory.models import USER_ACTIVE, USER_DISABLED, Unit, User, normalize_email
from idp.directory.passwords import PolicyViolation, check_password_policy, hash_password
from idp.directory.store import find_unit, find_user_by_address, find_user_by_sub, set_addresses
from idp.errors import Conflict, NotFound, ValidationFailed

SESSION_END_REASON_DISABLED = "user_disabled"


class PasswordRejected(ValidationFailed):
    """The password breaks the policy; `violations` says every way it does."""

    def __init__(self, violations: list[PolicyViolation]) -> None:
        self.violations = violations
        super().__init__("password rejected: " + " ".join(v.message for v in violations))


@dataclass
class NewUser:
    """What an administrator gives to create a user; the name in Vietnamese order."""

    email: str
    name: str = ""
    family_name: str = ""
    middle_name: str = ""
    given_name: str = ""
    aliases: tuple[str, ...] = ()
    unit_code: str | None = None
    roles: tuple[str, ...] = ()
    title: str | None = None
    phone: str | None = None
    password: str | None = None


def _checked(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except FieldError as exc:
        raise ValidationFailed(str(exc)) from None


def _unit_id(code: str | None) -> int | None:
    if not code:
        return None
    unit = find_unit(_checked(parse_unit_code, code))
    if unit is None:
        raise NotFound(f"unknown unit {code}")
    return unit.id


def _check_addresses_free(addresses: list[str], user_id: int | None) -> None:
    owners = records.address_owners(normalize_email(a) for a in addresses)
    for address in addresses:
        owner = owners.get(normalize_email(address))
        if owner is not None and owner != user_id:
            raise Conflict(f"address {normalize_email(address)} already belongs to another user")


def check_password(password: str, emails: list[str]) -> None:
    violations = check_password_policy(password, emails)
    if violations:
        raise PasswordRejected(violations)


def find_user(identifier: str) -> User:
    """A user by any of their addresses or by sub."""
    user = find_user_by_address(identifier) if "@" in identifier else None
    user = user or find_user_by_sub(identifier.strip())
    if user is None:
        raise NotFound(f"no user {identifier.strip()!r}")
    return user


def get_unit(code: str) -> Unit:
    unit = find_unit(code.strip())
    if unit is None:
        raise NotFound(f"unknown unit {code.strip()}")
    return unit


def create_user(new: NewUser, *, actor: str) -> User:
    """Create an active user; without a password they cannot sign in until one is set."""
    email = _checked(parse_email, new.email)
    aliases = [_checked(parse_email, a, "alias") for a in new.aliases]
    addresses = unique_addresses(email, aliases)
    if new.family_name or new.middle_name or new.given_name:
        names = (new.family_name, new.middle_name, new.given_name)
    else:
        names = split_full_name(new.name)
    family, middle, given = _checked(check_name_parts, *names)
    user = User(
        family_name=family,
        middle_name=middle,
        given_name=given,
        unit_id=_unit_id(new.unit_code),
        roles=_checked(parse_roles, " ".join(new.roles)),
        title=_checked(parse_optional_text, new.title, "title", TITLE_MAX_LENGTH),
        phone_number=_checked(parse_phone, new.phone),
        status=USER_ACTIVE,
        password_hash=None,
    )
    _check_addresses_free(addresses, None)
    if new.password is not None:
        check_password(new.password, addresses)
        user.password_hash = hash_password(new.password)
    set_addresses(user, email, addresses[1:])
    records.add(user)
    records.flush()
    audit.record(
        "user.create",
        actor=actor,
        subject=user.sub,
        detail={
            "email": email,
            "unit": new.unit_code,
            "roles": user.roles,
            "password_set": user.password_hash is not None,
        },
    )
    return user


def update_user(user: User, *, actor: str, **changes: Any) -> list[str]:
    """Change any of: email, aliases, name, unit_code, roles, title, phone; returns what changed."""
    before = _snapshot(user)
    if "email" in changes or "aliases" in changes:
        email = _checked(parse_email, changes.get("email", user.email))
        aliases = changes.get("aliases", user.aliases)
        aliases = [_checked(parse_email, a, "alias") for a in aliases]
        addresses = unique_addresses(email, aliases)
        _check_addresses_free(addresses, user.id)
        set_addresses(user, email, addresses[1:])
    if "name" in changes:
        names = _checked(check_name_parts, *split_full_name(changes["name"]))
        user.family_name, user.middle_name, user.given_name = names
    if "unit_code" in changes:
        user.unit_id = _unit_id(changes["unit_code"])
    if "roles" in changes:
        user.roles = _checked(parse_roles, " ".join(changes["roles"]))
    if "title" in changes:
        user.title = _checked(parse_optional_text, changes["title"], "title", TITLE_MAX_LENGTH)
    if "phone" in changes:
        user.phone_number = _checked(parse_phone, changes["phone"])
    after = _snapshot(user)
    changed = [key for key in after if after[key] != before[key]]
    if changed:
        audit.record(
            "user.update",
            actor=actor,
            subject=user.sub,
            detail={"changed": changed, **{k: after[k] for k in changed}},
        )
    return changed


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "aliases": sorted(normalize_email(a) for a in user.aliases),
        "name": user.name,
        "unit_id": user.unit_id,
        "roles": list(user.roles or []),
        "title": user.title,
        "phone": user.phone_number,
    }


def end_sign_ins(user_ids: list[int]) -> int:
    """End the SSO sessions of users who may no longer sign in (the caller commits).

    Every way of disabling a user comes through here, so logging them out of the relying
    parties as well belongs here too.
    """
    if not user_ids:
        return 0
    # Single sign-out (back-channel notices to their relying parties), and every grant,
    # offline ones included, revoked: idp.sessions subscribes (hooks.sign_ins_withdrawn).
    answers = hooks.sign_ins_withdrawn.send(
        current_app._get_current_object(), user_ids=user_ids, reason=SESSION_END_REASON_DISABLED
    )
    return sum(ended for _receiver, ended in answers)


def disable_user(user: User, actor: str) -> bool:
    """Disable a user and end their sign-ins. Returns False when they were already disabled."""
    if user.status == USER_DISABLED:
        return False
    user.status = USER_DISABLED
    ended = end_sign_ins([user.id])
    audit.record("user.disable", actor=actor, subject=user.sub, detail={"sessions_ended": ended})
    return True


def enable_user(user: User, actor: str) -> bool:
    """Let a disabled user sign in again. Returns False when they were already active."""
    if user.status == USER_ACTIVE:
        return False
    user.status = USER_ACTIVE
    audit.record("user.enable", actor=actor, subject=user.sub)
    return True


def store_password(user: User, password: str, *, must_change: bool = False) -> None:
    """Check a new password against the policy and store its hash (PasswordRejected, and
    nothing changed, when it breaks the policy). Every password link of the person still
    open stops working; `must_change`: they must choose another at their next sign-in.
    The caller records the audit event."""
    check_password(password, [user.email, *user.aliases])
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    tokens.void_links(user.id)


def set_password(user: User, password: str, actor: str) -> None:
    """Set a new password after checking it against the policy (the old one is not needed)."""
    store_password(user, password)
    audit.record("user.set_password", actor=actor, subject=user.sub)


def unit_subtree_ids(code: str) -> list[int]:
    """Ids of the unit with this code and of every unit below it."""
    root = get_unit(code)
    children: dict[int | None, list[int]] = {}
    for unit in records.load_units():
        children.setdefault(unit.parent_id, []).append(unit.id)
    found, todo = [], [root.id]
    while todo:
        unit_id = todo.pop()
        if unit_id not in found:
            found.append(unit_id)
            todo.extend(children.get(unit_id, []))
    return found


def create_unit(
    code: str, name: str, *, actor: str, kind: str = "other", parent_code: str | None = None
) -> Unit:
    code = _checked(parse_unit_code, code)
    if find_unit(code) is not None:
        raise Conflict(f"unit {code} already exists")
    unit = Unit(
        code=code,
        name=_checked(parse_unit_name, name),
        kind=_checked(parse_unit_kind, kind),
        parent_id=_unit_id(parent_code),
        active=True,
    )
    records.add(unit)
    records.flush()
    audit.record(
        "unit.create",
        actor=actor,
        subject=code,
        detail={"name": unit.name, "kind": unit.kind, "parent": parent_code},
    )
    return unit


def update_unit(unit: Unit, *, actor: str, **changes: Any) -> list[str]:
    """Rename, re-kind, re-parent (never under itself) or (de)activate a unit."""
    before = {
        "name": unit.name,
        "kind": unit.kind,
        "parent_id": unit.parent_id,
        "active": unit.active,
    }
    if "name" in changes:
        unit.name = _checked(parse_unit_name, changes["name"])
    if "kind" in changes:
        unit.kind = _checked(parse_unit_kind, changes["kind"])
    if "parent_code" in changes:
        parent_id = _unit_id(changes["parent_code"])
        if parent_id is not None:
            parent = records.get_unit(parent_id)
            if any(u.id == unit.id for u in parent.path()):
                raise ValidationFailed(f"unit {unit.code} cannot be moved under itself")
        unit.parent_id = parent_id
    if "active" in changes:
        unit.active = bool(changes["active"])
    after = {
        "name": unit.name,
        "kind": unit.kind,
        "parent_id": unit.parent_id,
        "active": unit.active,
    }
    changed = [key for key in after if after[key] != before[key]]
    if changed:
        audit.record(
            "unit.update",
            actor=actor,
            subject=unit.code,
            detail={"changed": changed, **{k: after[k] for k in changed}},
        )
    return changed
