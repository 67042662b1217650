"""The LDAP source's settings, read once per sync or sign-in check from the app config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idp.directory.ldap.attributes import AttributeMap, attribute_map
from idp.errors import IdpError


class LdapNotConfigured(IdpError):
    """The LDAP_* settings do not describe a source that can be used; str(exc) says why."""


@dataclass(frozen=True)
class LdapSettings:
    url: str
    start_tls: bool
    ca_file: str | None
    bind_dn: str
    bind_password: str = field(repr=False)
    base_dn: str
    filter: str
    attributes: AttributeMap
    # "ou", "none" or the name of an attribute.
    unit_from: str
    unit_map: dict[str, str]
    page_size: int
    timeout_seconds: float
    max_disable_percent: float
    lock_stale_seconds: int
    password_check: str


def _bind_password(config: dict[str, Any]) -> str:
    """From the environment (IDP_LDAP_BIND_PASSWORD) or a file, never the command line."""
    path = str(config.get("LDAP_BIND_PASSWORD_FILE") or "")
    if not path:
        return str(config.get("LDAP_BIND_PASSWORD") or "")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LdapNotConfigured(
            f"cannot read IDP_LDAP_BIND_PASSWORD_FILE {path}: {exc.__class__.__name__}"
        ) from None
    return text.rstrip("\r\n")


def ldap_settings(config: dict[str, Any]) -> LdapSettings:
    """The source described by the settings; LdapNotConfigured when there is none."""
    url = str(config.get("LDAP_URL") or "")
    base_dn = str(config.get("LDAP_BASE_DN") or "")
    if not url or not base_dn:
        raise LdapNotConfigured("no LDAP source: set IDP_LDAP_URL and IDP_LDAP_BASE_DN")
    try:
        amap = attribute_map(config["LDAP_PRESET"], config.get("LDAP_ATTRIBUTES") or {})
    except ValueError as exc:
        raise LdapNotConfigured(str(exc)) from None
    if not config.get("LDAP_SYNC_PASSWORD_HASHES", True):
        # Not read at all: a hash the provider will not use is better never asked for.
        amap = dataclasses.replace(amap, password_hash="")
    bind_dn = str(config.get("LDAP_BIND_DN") or "")
    password = _bind_password(config)
    if bind_dn and not password:
        # An empty password makes a simple bind anonymous (RFC 4513 5.1.2): never send one.
        raise LdapNotConfigured(
            "IDP_LDAP_BIND_DN is set without a password "
            "(IDP_LDAP_BIND_PASSWORD or IDP_LDAP_BIND_PASSWORD_FILE)"
        )
    unit_from = str(config.get("LDAP_UNIT_FROM") or "ou")
    if unit_from.startswith("attribute:"):
        unit_from = unit_from[len("attribute:") :].strip()
    return LdapSettings(
        url=url,
        start_tls=bool(config.get("LDAP_START_TLS", True)),
        ca_file=str(config.get("LDAP_CA_FILE") or "") or None,
        bind_dn=bind_dn,
        bind_password=password,
        base_dn=base_dn,
        filter=str(config.get("LDAP_FILTER") or "") or amap.filter,
        attributes=amap,
        unit_from=unit_from,
        unit_map=dict(config.get("LDAP_UNIT_MAP") or {}),
        page_size=int(config.get("LDAP_PAGE_SIZE", 500)),
        timeout_seconds=float(config.get("LDAP_TIMEOUT_SECONDS", 10)),
        max_disable_percent=float(config.get("LDAP_SYNC_MAX_DISABLE_PERCENT", 5)),
        lock_stale_seconds=int(config.get("LDAP_SYNC_LOCK_STALE_SECONDS", 1800)),
        password_check=str(config.get("LDAP_PASSWORD_CHECK") or "off"),
    )
