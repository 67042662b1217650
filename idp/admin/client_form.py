"""The console's application form: HTML fields to RFC 7591 metadata and back.

The form only translates; the rules are idp.clients.metadata.validate_metadata's, the same
gate as `idp clients`, the manifests and dynamic registration. Multi-value fields are one
value per line. An empty field removes the value (the provider's default applies); fields
the form does not show (jwks, translated names, ...) are kept as they were on an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.clients.metadata import ACR_VALUES, APPLICATION_TYPES, GRANT_TYPES
from idp.clients.metadata import TOKEN_ENDPOINT_AUTH_METHODS as AUTH_METHODS
from idp.clients.models import Client
from idp.clients.service import ClientSettings

# One URI or value per line.
LIST_FIELDS = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "allowed_audiences",
    "resource_server_audiences",
    "contacts",
)
TEXT_FIELDS = (
    "client_name",
    "scope",
    "backchannel_logout_uri",
    "frontchannel_logout_uri",
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "jwks_uri",
    "initiate_login_uri",
)
FLAG_FIELDS = (
    "backchannel_logout_session_required",
    "frontchannel_logout_session_required",
    # Its client_credentials tokens act as a super-administrator in the admin API.
    "admin_automation",
)
CHOICE_FIELDS = {
    "application_type": APPLICATION_TYPES,
    "token_endpoint_auth_method": AUTH_METHODS,
}
TTL_FIELDS = ("access_token_ttl", "id_token_ttl", "refresh_token_ttl")
# Form fields beside the metadata: what ClientSettings holds, and a chosen client_id.
SETTINGS_FIELDS = ("first_party", *TTL_FIELDS)
GRANT_CHOICES = GRANT_TYPES
ACR_CHOICES = ACR_VALUES
# Longest text accepted in one form field before validation (the policy caps it further).
MAX_FIELD_CHARS = 20_000


class FormInvalid(ValueError):
    """A form value that is not even of the right shape (a lifetime that is no number)."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


@dataclass
class ClientForm:
    """The values the form shows: what was typed, or what the client has."""

    values: dict[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            return ""
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return str(value)

    def checked(self, name: str, choice: str | None = None) -> bool:
        value = self.values.get(name)
        if choice is None:
            return bool(value)
        return isinstance(value, list) and choice in value


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _clip(value: Any) -> str:
    return str(value or "")[:MAX_FIELD_CHARS]


def form_from_request(form: Mapping[str, Any]) -> ClientForm:
    """What was posted, kept as typed for showing the form again."""
    values: dict[str, Any] = {}
    for name in (*LIST_FIELDS, *TEXT_FIELDS, *CHOICE_FIELDS, *TTL_FIELDS, "client_id"):
        text = _clip(form.get(name))
        values[name] = text if name in LIST_FIELDS else text.strip()
    getlist = getattr(form, "getlist", lambda name: [])
    values["grant_types"] = [g for g in getlist("grant_types") if isinstance(g, str)][:10]
    acr_values = [a for a in getlist("default_acr_values") if isinstance(a, str)]
    values["default_acr_values"] = acr_values[:10]
    for name in (*FLAG_FIELDS, "first_party"):
        values[name] = form.get(name) == "1"
    return ClientForm(values)


def form_from_client(client: Client) -> ClientForm:
    """The edit form of a registered client."""
    meta = dict(client.client_metadata or {})
    values: dict[str, Any] = {name: meta.get(name) for name in (*LIST_FIELDS, *TEXT_FIELDS)}
    values.update({name: meta.get(name, "") for name in CHOICE_FIELDS})
    values["grant_types"] = list(meta.get("grant_types", []))
    values["default_acr_values"] = list(meta.get("default_acr_values", []))
    for name in FLAG_FIELDS:
        values[name] = bool(meta.get(name))
    values["first_party"] = client.first_party
    for name in TTL_FIELDS:
        values[name] = getattr(client, name)
    values["client_id"] = client.client_id
    return ClientForm(values)


def _ttl(values: Mapping[str, Any], name: str) -> int | None:
    text = str(values.get(name) or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise FormInvalid(name, "must be a whole number of seconds")
    return int(text)


def to_changes(form: ClientForm) -> tuple[dict[str, Any], ClientSettings]:
    """The metadata changes (None removes a field) and the settings the form asks for."""
    values = form.values
    changes: dict[str, Any] = {}
    for name in LIST_FIELDS:
        changes[name] = _lines(form.text(name)) or None
    for name in TEXT_FIELDS:
        changes[name] = form.text(name).strip() or None
    for name in CHOICE_FIELDS:
        changes[name] = form.text(name).strip() or None
    for name in FLAG_FIELDS:
        changes[name] = True if values.get(name) else None
    grants = list(dict.fromkeys(values.get("grant_types") or []))
    changes["grant_types"] = grants or None
    # The response types follow the grants (RFC 7591 2.1): "code" with authorization_code.
    uses_code = not grants or "authorization_code" in grants
    changes["response_types"] = ["code"] if uses_code else []
    acr_values = list(dict.fromkeys(values.get("default_acr_values") or []))
    changes["default_acr_values"] = acr_values or None
    settings = ClientSettings(
        first_party=bool(values.get("first_party")),
        access_token_ttl=_ttl(values, "access_token_ttl"),
        id_token_ttl=_ttl(values, "id_token_ttl"),
        refresh_token_ttl=_ttl(values, "refresh_token_ttl"),
    )
    return changes, settings


def to_metadata(form: ClientForm) -> tuple[dict[str, Any], ClientSettings]:
    """A new client's metadata: the changes without the removals."""
    changes, settings = to_changes(form)
    return {k: v for k, v in changes.items() if v is not None}, settings
