"""Bind pass-through: a password checked by the LDAP server, for accounts mirrored from it.

Where the mail system keeps hashes the provider may not read, a person whose account has
no local password is checked by binding to LDAP as them (their DN found by the stored
entryUUID / objectGUID, searched as the service account). On success the sign-in stores
the password as argon2id. LDAP_PASSWORD_CHECK decides what comes after: "migrate" checks
locally from then on; "always" keeps asking LDAP, whose answer wins (a password changed in
the mail system works at once, the old one no longer does).

The sign-in (idp.interaction.service) calls `checks_with_source` and `check_with_source`;
the directory knows nothing of the pages. An unreachable server raises SourceUnavailable,
which the sign-in turns into "try again later", never into a wrong password.
"""

from __future__ import annotations

from flask import current_app

from idp.directory.ldap.config import LdapNotConfigured, ldap_settings
from idp.directory.ldap.source import SourceUnavailable, check_password
from idp.directory.ldap.store import SOURCE_LDAP
from idp.directory.models import User

__all__ = ["SourceUnavailable", "check_with_source", "checks_with_source"]


def checks_with_source(user: User | None, stored_hash: str | None) -> bool:
    """Whether this account's password is checked by an LDAP bind rather than locally."""
    config = current_app.config
    mode = config.get("LDAP_PASSWORD_CHECK", "off")
    if mode == "off" or not config.get("LDAP_URL"):
        return False
    if user is None or user.source != SOURCE_LDAP or not user.external_id:
        return False
    return mode == "always" or stored_hash is None


def check_with_source(user: User, password: str) -> bool:
    """True when the LDAP server accepts the password; SourceUnavailable when it cannot say
    (down, too slow, misconfigured). An empty password is never sent (it would be an
    anonymous bind, which succeeds)."""
    if not password:
        return False
    try:
        settings = ldap_settings(current_app.config)
    except LdapNotConfigured as exc:
        raise SourceUnavailable(str(exc)) from None
    return check_password(settings, user.external_id or "", password)
