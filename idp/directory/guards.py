"""Accounts that nothing but their holder's own proof may take over (docs/upstreams.md,
docs/directory.md).

Two ways of attaching an account to an outside identity go by an address alone: linking an
upstream identity whose verified e-mail is the account's (idp.upstreams.linking), and the
LDAP sync adopting an unlinked account whose address an entry carries
(idp.directory.ldap). Neither may reach an account whose takeover would hand over more than
a person's own data. What makes an account so is known in packages the directory may not
import (unit administrators in idp.admin, accounts made by an upstream in idp.upstreams), so
those packages register a predicate here at init_app, in the application's extensions:

- *privileged* (`register(app, name, predicate, privileged=True)`): the account holds
  power over others: roles (checked here), administration of units (idp.admin). Refused
  for linking by e-mail and for adoption by the sync.
- *owned elsewhere* (`privileged=False`): the account belongs to another way of signing
  in (made at a first sign-in through an upstream, idp.upstreams). Refused for adoption by
  the sync only.

A predicate takes user ids and returns those it applies to (one query for many).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import sqlalchemy as sa
from flask import Flask, current_app

from idp.directory.models import User
from idp.extensions import db

Predicate = Callable[[Collection[int]], set[int]]
_KEY = "idp.account_guards"
ROLES = "roles"


def register(app: Flask, name: str, predicate: Predicate, *, privileged: bool) -> None:
    """Add (or replace, by name) a reason an account may not be taken over by address."""
    app.extensions.setdefault(_KEY, {})[name] = (predicate, privileged)


def _with_roles(user_ids: Collection[int]) -> set[int]:
    rows = db.session.execute(sa.select(User.id, User.roles).where(User.id.in_(list(user_ids))))
    return {uid for uid, roles in rows if roles}


def _reasons(user_ids: Collection[int], *, privileged_only: bool) -> dict[int, list[str]]:
    ids = list(dict.fromkeys(user_ids))
    reasons: dict[int, list[str]] = {uid: [] for uid in ids}
    if not ids:
        return reasons
    checks: dict[str, tuple[Predicate, bool]] = {ROLES: (_with_roles, True)}
    checks.update(current_app.extensions.get(_KEY, {}))
    for name, (predicate, privileged) in checks.items():
        if privileged or not privileged_only:
            for uid in predicate(ids):
                if uid in reasons:
                    reasons[uid].append(name)
    return reasons


def privileged(user_id: int) -> list[str]:
    """Why the account holds power over others (empty: it does not)."""
    return _reasons([user_id], privileged_only=True)[user_id]


def not_adoptable(user_ids: Collection[int]) -> dict[int, list[str]]:
    """For each account, why a sync may not adopt it by address (empty list: it may)."""
    return _reasons(user_ids, privileged_only=False)
