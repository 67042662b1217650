"""From an LDAP entry to an account: the attribute maps of the mail systems a province runs.

A preset names, for each field of an account, the attribute that holds it, and says how the
source marks an account it no longer lets sign in:

- `openldap` (inetOrgPerson): `entryUUID`, `mail` (further `mail` values are aliases),
  `cn`, `telephoneNumber`, `title`; locked when an administrator locked the account with
  the password policy overlay (`pwdAccountLockedTime: 000001010000Z`). A lock-out after
  failed binds (any other time) does not count: whoever types wrong passwords into webmail
  must not be able to disable a colleague here.
- `zimbra`: as openldap, with `zimbraMailAlias` for the aliases and `zimbraAccountStatus`:
  only `active` and `lockout` (a temporary lock after failed logins, which the mail system
  lifts by itself) let a person sign in; `locked`, `closed`, `maintenance`, `pending` do not.
- `active-directory`: `objectGUID` (16 bytes, written as a UUID), `mail`, the `smtp:`
  values of `proxyAddresses` (the `SMTP:` one is the primary), `displayName`; disabled
  when the ACCOUNTDISABLE bit (0x2) of `userAccountControl` is set.

`password_hash` names the attribute holding the mail password's hash: `userPassword` for
openldap and zimbra (Zimbra keeps `{SSHA512}` or `{SSHA}` there), none for Active Directory,
which never reveals its hashes. The value is read as text only here; whether it is a hash the
provider takes is legacy.imported_hash's to say, in the sync.

Every text is NFC-normalised (Vietnamese letters may arrive composed or decomposed), so the
same name stored from either form compares equal and a re-sync changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

from idp.directory.fields import (
    TITLE_MAX_LENGTH,
    FieldError,
    check_name_parts,
    clean,
    parse_email,
    parse_optional_text,
    parse_phone,
    split_full_name,
    unique_addresses,
)
from idp.directory.models import normalize_email

# How a source marks an account that may not sign in.
PPOLICY_ADMIN_LOCK = "ppolicy-admin-lock"
# pwdAccountLockedTime of an account an administrator locked (draft-behera-ldap-password-
# policy 5.3.3); any other time is a lock-out after failed binds, which the server lifts.
PPOLICY_PERMANENT_LOCK = "000001010000Z"
ACTIVE_VALUES = "active-values"
AD_ACCOUNT_CONTROL = "ad-account-control"
AD_ACCOUNTDISABLE = 0x2


@dataclass(frozen=True)
class AttributeMap:
    """Which attribute holds each field; an empty name means the source has no such field."""

    external_id: str
    mail: str
    aliases: str
    full_name: str
    family_name: str
    given_name: str
    phone: str
    title: str
    status: str
    status_rule: str
    filter: str
    active_values: tuple[str, ...] = ()
    # Binary identifiers (objectGUID) are written as a UUID from little-endian bytes.
    binary_id: bool = False
    # The mail password's hash (userPassword); empty: the sync reads no hashes.
    password_hash: str = ""

    def requested(self, unit_attribute: str | None) -> list[str]:
        """The attributes a search asks for (operational ones by name: entryUUID)."""
        names = [
            self.external_id,
            self.mail,
            self.aliases,
            self.full_name,
            self.family_name,
            self.given_name,
            self.phone,
            self.title,
            self.status,
            self.password_hash,
            unit_attribute or "",
        ]
        return sorted({n for n in names if n})


_OPENLDAP = AttributeMap(
    external_id="entryUUID",
    mail="mail",
    aliases="",
    full_name="cn",
    family_name="sn",
    given_name="givenName",
    phone="telephoneNumber",
    title="title",
    status="pwdAccountLockedTime",
    status_rule=PPOLICY_ADMIN_LOCK,
    filter="(objectClass=inetOrgPerson)",
    password_hash="userPassword",
)

PRESETS: dict[str, AttributeMap] = {
    "openldap": _OPENLDAP,
    "zimbra": dataclasses.replace(
        _OPENLDAP,
        aliases="zimbraMailAlias",
        full_name="displayName",
        status="zimbraAccountStatus",
        status_rule=ACTIVE_VALUES,
        active_values=("active", "lockout"),
        filter="(objectClass=zimbraAccount)",
    ),
    "active-directory": AttributeMap(
        external_id="objectGUID",
        mail="mail",
        aliases="proxyAddresses",
        full_name="displayName",
        family_name="sn",
        given_name="givenName",
        phone="telephoneNumber",
        title="title",
        status="userAccountControl",
        status_rule=AD_ACCOUNT_CONTROL,
        filter="(&(objectCategory=person)(objectClass=user))",
        binary_id=True,
    ),
}
# The fields LDAP_ATTRIBUTES may override.
MAPPED_FIELDS = (
    "external_id",
    "mail",
    "aliases",
    "full_name",
    "family_name",
    "given_name",
    "phone",
    "title",
    "status",
    "password_hash",
)


def attribute_map(preset: str, overrides: dict[str, str]) -> AttributeMap:
    """The preset with LDAP_ATTRIBUTES' overrides (an empty value: the source has none)."""
    unknown = sorted(set(overrides) - set(MAPPED_FIELDS))
    if unknown:
        raise ValueError(
            f"IDP_LDAP_ATTRIBUTES: unknown field {unknown[0]!r} (known: {', '.join(MAPPED_FIELDS)})"
        )
    if not overrides.get("external_id", "x") or not overrides.get("mail", "x"):
        raise ValueError("IDP_LDAP_ATTRIBUTES: external_id and mail cannot be empty")
    return dataclasses.replace(PRESETS[preset], **overrides)


@dataclass
class SourceEntry:
    """One account as the source describes it, checked and normalised."""

    dn: str
    external_id: str
    email: str
    aliases: list[str]
    names: tuple[str, str, str]
    phone: str | None
    title: str | None
    # The OU path or attribute value naming the unit (None: no unit), before LDAP_UNIT_MAP.
    unit_key: str | None
    locked: bool
    # The password hash as the source stores it (None: none read); never in a repr or a log.
    password_hash: str | None = field(default=None, repr=False)
    # Why a stored value could not be read as a hash (for the run's notes; never the value).
    password_note: str | None = None

    @property
    def addresses(self) -> list[str]:
        return unique_addresses(self.email, self.aliases)

    @property
    def keys(self) -> list[str]:
        return [normalize_email(a) for a in self.addresses]


def lower_keys(attributes: dict[str, Any]) -> dict[str, list[Any]]:
    """Attribute names compare case-insensitively in LDAP (RFC 4512 2.5)."""
    return {name.lower(): list(values or []) for name, values in attributes.items()}


def texts(values: list[Any]) -> list[str]:
    """The values as NFC text; binary values that are no UTF-8 are left out."""
    result = []
    for value in values:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                continue
        text = clean(str(value))
        if text:
            result.append(text)
    return result


def _first(attrs: dict[str, list[Any]], name: str) -> str:
    found = texts(attrs.get(name.lower(), [])) if name else []
    return found[0] if found else ""


def external_id_of(attrs: dict[str, list[Any]], amap: AttributeMap) -> str:
    raw = attrs.get(amap.external_id.lower(), [])
    if not raw:
        return ""
    value = raw[0]
    if amap.binary_id and isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes_le=value))
    return texts([value])[0].lower() if texts([value]) else ""


def is_locked(attrs: dict[str, list[Any]], amap: AttributeMap) -> bool:
    """Whether the source keeps this account from signing in (the preset's rule)."""
    if not amap.status:
        return False
    value = _first(attrs, amap.status)
    if amap.status_rule == PPOLICY_ADMIN_LOCK:
        return value.upper() == PPOLICY_PERMANENT_LOCK
    if amap.status_rule == ACTIVE_VALUES:
        return value.lower() not in amap.active_values
    try:
        return bool(int(value or "0") & AD_ACCOUNTDISABLE)
    except ValueError:
        return True  # an account control we cannot read is no licence to sign in


def _addresses(attrs: dict[str, list[Any]], amap: AttributeMap) -> tuple[str, list[str]]:
    """(primary, aliases) as written; FieldError for a missing or malformed address."""
    mails = texts(attrs.get(amap.mail.lower(), []))
    extra = texts(attrs.get(amap.aliases.lower(), [])) if amap.aliases else []
    if amap.aliases.lower() == "proxyaddresses":
        primary = [v[5:] for v in extra if v.startswith("SMTP:")]
        mails = mails or primary
        extra = [v[5:] for v in extra if v.lower().startswith("smtp:")]
    if not mails:
        raise FieldError("no mail address")
    primary_address = parse_email(mails[0])
    aliases = [parse_email(a, "alias") for a in [*mails[1:], *extra]]
    return primary_address, unique_addresses(primary_address, aliases)[1:]


def _names(attrs: dict[str, list[Any]], amap: AttributeMap) -> tuple[str, str, str]:
    full = _first(attrs, amap.full_name)
    if not full:
        parts = (_first(attrs, amap.family_name), _first(attrs, amap.given_name))
        full = " ".join(p for p in parts if p)
    return check_name_parts(*split_full_name(full))


def _phone(attrs: dict[str, list[Any]], amap: AttributeMap) -> str | None:
    """A number the directory can hold, or none: a badly written phone in the mail system is
    no reason to leave a person out of the mirror."""
    try:
        return parse_phone(_first(attrs, amap.phone))
    except FieldError:
        return None


def password_hash_of(
    attrs: dict[str, list[Any]], amap: AttributeMap
) -> tuple[str | None, str | None]:
    """(hash, None), (None, note) for a value that is no text, or (None, None) without one.

    ldap3 returns userPassword as bytes (its syntax is octet string); a hash is ASCII, so a
    value that is not UTF-8 is no hash we could check, and is left out with a note. Of
    several values (a server may keep one per scheme), the first that is text is taken.
    """
    if not amap.password_hash:
        return None, None
    raw = attrs.get(amap.password_hash.lower(), [])
    for value in raw:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                continue
        text = str(value).strip()
        if text:
            return text, None
    if raw:
        return None, f"{amap.password_hash} is not text: no password hash taken"
    return None, None


def ou_path(dn: str, base_dn: str) -> str | None:
    """The organisational units of `dn` below `base_dn`, from the top down, joined by "/"."""
    # Here, not at the top: ldap3 takes ~145 ms to import and every `idp` command imports
    # this module; only the sync reads DNs.
    from ldap3.utils.dn import parse_dn

    try:
        parts = parse_dn(dn, escape=False, strip=True)
        base_len = len(parse_dn(base_dn, escape=False, strip=True)) if base_dn else 0
    except Exception:  # noqa: BLE001 - ldap3 raises several types for one malformed DN
        return None
    below = parts[1 : len(parts) - base_len] if base_len else parts[1:]
    units = [clean(value) for attr, value, _sep in reversed(below) if attr.lower() == "ou"]
    return "/".join(units) or None


def entry_from_ldap(
    dn: str, attributes: dict[str, Any], amap: AttributeMap, *, base_dn: str, unit_from: str
) -> SourceEntry:
    """The account an entry describes; FieldError when it cannot be one (the reason)."""
    attrs = lower_keys(attributes)
    external_id = external_id_of(attrs, amap)
    if not external_id:
        raise FieldError(f"no {amap.external_id}")
    email, aliases = _addresses(attrs, amap)
    if unit_from == "none":
        unit_key = None
    elif unit_from == "ou":
        unit_key = ou_path(dn, base_dn)
    else:
        unit_key = _first(attrs, unit_from) or None
    password_hash, password_note = password_hash_of(attrs, amap)
    return SourceEntry(
        dn=clean(dn),
        external_id=external_id,
        email=email,
        aliases=aliases,
        names=_names(attrs, amap),
        phone=_phone(attrs, amap),
        title=parse_optional_text(_first(attrs, amap.title), "title", TITLE_MAX_LENGTH),
        unit_key=unit_key,
        locked=is_locked(attrs, amap),
        password_hash=password_hash,
        password_note=password_note,
    )
