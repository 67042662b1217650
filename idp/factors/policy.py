"""Who must always sign in with a second factor: people with one of MFA_REQUIRED_ROLES, or
in a unit (or below one) of MFA_REQUIRED_UNITS; and relying parties in MFA_REQUIRED_CLIENTS
(idp.oidc asks for the level for every request of theirs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.assurance import ACR_MFA
from idp.directory.models import Unit, User
from idp.extensions import db


def required_acr_for_user(user: User, config: Mapping[str, Any]) -> str | None:
    roles = set(config.get("MFA_REQUIRED_ROLES") or [])
    if roles & set(user.roles or []):
        return ACR_MFA
    units = set(config.get("MFA_REQUIRED_UNITS") or [])
    unit = db.session.get(Unit, user.unit_id) if units and user.unit_id else None
    if unit is not None and any(u.code in units for u in unit.path()):
        return ACR_MFA
    return None


def required_acr_for_client(client_id: str, config: Mapping[str, Any]) -> str | None:
    return ACR_MFA if client_id in (config.get("MFA_REQUIRED_CLIENTS") or []) else None
