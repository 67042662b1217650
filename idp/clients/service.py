"""Relying-party registrations: create, update, rotate the secret, disable, enable, delete.

Used by the `idp clients` commands, the manifests in clients/ and dynamic registration, so
every registration passes the same metadata rules (client_metadata.validate_metadata). The
functions take plain values, record an audit event and commit; secrets are returned once
and stored only as hashes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idp import audit
from idp.clients import store
from idp.clients.metadata import (
    SECRET_AUTH_METHODS,
    InvalidClientMetadata,
    InvalidRedirectURI,
    MetadataPolicy,
    validate_metadata,
)
from idp.clients.models import Client, secret_matches
from idp.errors import Conflict, IdpError, NotFound
from idp.extensions import utcnow
from idp.security import hash_secret

__all__ = [
    "ClientError",
    "ClientExists",
    "ClientNotFound",
    "ClientSettings",
    "InvalidClientMetadata",
    "InvalidRedirectURI",
    "MetadataPolicy",
    "validate_metadata",
]

# 256 random bits: a fast hash at rest is then as strong as a slow one (see hash_secret).
SECRET_BYTES = 32
# A secret an administrator supplies (manifest environment variable) must be at least this
# long, since it is hashed with SHA-256 and not a password hash.
MIN_SUPPLIED_SECRET_LENGTH = 32
# client_id appears in URLs (RFC 7592 registration_client_uri): RFC 3986 unreserved only.
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
MAX_TTL_SECONDS = 366 * 86400


class ClientError(IdpError):
    """A request about a client that cannot be carried out (message says why)."""


class ClientNotFound(NotFound):
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        super().__init__(f"no client with client_id {client_id!r}")


class ClientExists(Conflict):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"a client with client_id {client_id!r} already exists")


@dataclass(frozen=True)
class ClientSettings:
    """What administrators set beside the RFC 7591 metadata (columns of oauth_clients)."""

    first_party: bool = False
    access_token_ttl: int | None = None
    id_token_ttl: int | None = None
    refresh_token_ttl: int | None = None

    def check(self) -> ClientSettings:
        for name in ("access_token_ttl", "id_token_ttl", "refresh_token_ttl"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 1 <= value <= MAX_TTL_SECONDS
            ):
                raise InvalidClientMetadata(
                    name, f"must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}"
                )
        if not isinstance(self.first_party, bool):
            raise InvalidClientMetadata("first_party", "must be true or false")
        return self


@dataclass
class ClientResult:
    """The outcome of a change; `client_secret` is set only when a new secret was generated."""

    client: Client
    client_secret: str | None = None
    changed: list[str] = field(default_factory=list)


def check_first_party(settings: ClientSettings, source: str) -> None:
    """A client that registered itself (RFC 7591) is never first-party: skipping consent is
    for the province's own applications, which its administrators register. To trust one,
    they take it over with a manifest (source "manifest"), which ends its self-management."""
    if settings.first_party and source == "dynamic":
        raise ClientError(
            "a dynamically registered client cannot be first-party; "
            "take it over with a manifest first"
        )


def needs_secret(metadata: Mapping[str, Any]) -> bool:
    return metadata.get("token_endpoint_auth_method") in SECRET_AUTH_METHODS


def generate_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def generate_client_id() -> str:
    """32 random URL-safe characters that never start with '-' or '_': an identifier that
    begins with '-' would be read as an option when given to `idp clients ...`."""
    while True:
        client_id = secrets.token_urlsafe(24)
        if client_id[0].isalnum():
            return client_id


def check_client_id(client_id: str) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.match(client_id):
        raise InvalidClientMetadata("client_id", "1 to 128 characters from A-Z a-z 0-9 . _ ~ -")
    return client_id


def check_supplied_secret(secret: str) -> str:
    if len(secret) < MIN_SUPPLIED_SECRET_LENGTH or not secret.isprintable():
        raise InvalidClientMetadata(
            "client_secret",
            f"a supplied secret must be at least {MIN_SUPPLIED_SECRET_LENGTH} printable "
            "characters of random data",
        )
    return secret


def get_client(client_id: str) -> Client:
    client = store.find_client(client_id)
    if client is None:
        raise ClientNotFound(client_id)
    return client


def list_clients() -> list[Client]:
    return store.list_clients()


def build_client(
    metadata: Mapping[str, Any],
    policy: MetadataPolicy,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    settings: ClientSettings | None = None,
    source: str = "cli",
) -> ClientResult:
    """A new client added to the session, not yet committed (for callers that add more)."""
    normal = validate_metadata(metadata, policy)
    settings = (settings or ClientSettings()).check()
    check_first_party(settings, source)
    client_id = check_client_id(client_id) if client_id else generate_client_id()
    if store.find_client(client_id) is not None:
        raise ClientExists(client_id)
    generated = None
    if needs_secret(normal):
        if client_secret is None:
            client_secret = generated = generate_secret()
        else:
            check_supplied_secret(client_secret)
    elif client_secret is not None:
        raise InvalidClientMetadata(
            "client_secret",
            f"a client using {normal['token_endpoint_auth_method']} has no client secret",
        )
    client = Client(
        client_id=client_id,
        client_secret_hash=hash_secret(client_secret) if client_secret else None,
        client_id_issued_at=int(utcnow().timestamp()),
        client_secret_expires_at=0,
        client_metadata=normal,
        first_party=settings.first_party,
        active=True,
        access_token_ttl=settings.access_token_ttl,
        id_token_ttl=settings.id_token_ttl,
        refresh_token_ttl=settings.refresh_token_ttl,
        source=source,
    )
    store.add(client)
    return ClientResult(client, generated, ["created"])


def create_client(
    metadata: Mapping[str, Any],
    policy: MetadataPolicy,
    *,
    actor: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    settings: ClientSettings | None = None,
    source: str = "cli",
) -> ClientResult:
    """Register a client. A generated secret is in the result, shown once, stored hashed."""
    result = build_client(
        metadata,
        policy,
        client_id=client_id,
        client_secret=client_secret,
        settings=settings,
        source=source,
    )
    audit.record(
        "client.create",
        actor=actor,
        subject=result.client.client_id,
        detail={"source": source, "auth_method": result.client.token_endpoint_auth_method},
    )
    return result


def plan_update(
    client: Client,
    changes: Mapping[str, Any],
    policy: MetadataPolicy,
    *,
    replace: bool = False,
    settings: ClientSettings | None = None,
    client_secret: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The new metadata and the names of what would change, without changing anything.

    `changes` is merged into the current metadata (a None value removes a field), or with
    `replace` it is the whole new metadata (RFC 7592 section 2.2: omitted fields are
    deleted). `client_secret`, when given, is the wanted secret (manifests).
    """
    if replace:
        wanted: dict[str, Any] = dict(changes)
    else:
        wanted = dict(client.client_metadata or {})
        for key, value in changes.items():
            if value is None:
                wanted.pop(key, None)
            else:
                wanted[key] = value
    normal = validate_metadata(wanted, policy)
    old = client.client_metadata or {}
    changed = sorted(k for k in set(old) | set(normal) if old.get(k) != normal.get(k))
    if settings is not None:
        settings.check()
        for name in ("first_party", "access_token_ttl", "id_token_ttl", "refresh_token_ttl"):
            if getattr(client, name) != getattr(settings, name):
                changed.append(name)
    if client_secret is not None:
        if not needs_secret(normal):
            raise InvalidClientMetadata(
                "client_secret",
                f"a client using {normal['token_endpoint_auth_method']} has no client secret",
            )
        check_supplied_secret(client_secret)
        if not secret_matches(client.client_secret_hash, client_secret):
            changed.append("client_secret")
    return normal, changed


def update_client(
    client_id: str,
    changes: Mapping[str, Any],
    policy: MetadataPolicy,
    *,
    actor: str,
    replace: bool = False,
    settings: ClientSettings | None = None,
    client_secret: str | None = None,
    source: str | None = None,
) -> ClientResult:
    """Change a client's metadata and settings; nothing is written when nothing changes.

    Moving to client_secret_basic/post from a method without a secret generates one (in the
    result, shown once); moving to none or private_key_jwt drops the stored secret.
    """
    client = get_client(client_id)
    normal, changed = plan_update(
        client, changes, policy, replace=replace, settings=settings, client_secret=client_secret
    )
    generated = None
    if needs_secret(normal) and client.client_secret_hash is None and client_secret is None:
        client_secret = generated = generate_secret()
        changed.append("client_secret")
    if settings is not None:
        check_first_party(settings, source or client.source)
    if source is not None and source != client.source:
        changed.append("source")
        client.source = source
        if source != "dynamic":
            # Taken over by the administrators: the client no longer manages itself (RFC 7592).
            client.registration_token_hash = None
    if not changed:
        return ClientResult(client)
    client.client_metadata = normal
    if settings is not None:
        client.first_party = settings.first_party
        client.access_token_ttl = settings.access_token_ttl
        client.id_token_ttl = settings.id_token_ttl
        client.refresh_token_ttl = settings.refresh_token_ttl
    if not needs_secret(normal):
        client.client_secret_hash = None
    elif client_secret is not None:
        client.client_secret_hash = hash_secret(client_secret)
        client.client_secret_expires_at = 0
    audit.record("client.update", actor=actor, subject=client_id, detail={"changed": changed})
    return ClientResult(client, generated, changed)


def rotate_secret(client_id: str, *, actor: str) -> str:
    """A new secret (returned once); the old one stops working at once."""
    client = get_client(client_id)
    if not needs_secret(client.client_metadata or {}):
        raise ClientError(
            f"client {client_id!r} authenticates with {client.token_endpoint_auth_method} "
            "and has no client secret"
        )
    secret = generate_secret()
    client.client_secret_hash = hash_secret(secret)
    client.client_secret_expires_at = 0
    audit.record("client.rotate_secret", actor=actor, subject=client_id)
    return secret


def set_active(client_id: str, active: bool, *, actor: str) -> bool:
    """Enable or disable a client; False when it already was in that state."""
    client = get_client(client_id)
    if client.active == active:
        return False
    client.active = active
    audit.record("client.enable" if active else "client.disable", actor=actor, subject=client_id)
    return True


def delete_client(client_id: str, *, actor: str) -> None:
    client = get_client(client_id)
    store.delete_client(client)
    audit.record("client.delete", actor=actor, subject=client_id)


def registration_view(client: Client) -> dict[str, Any]:
    """The client information response of RFC 7591 section 3.2.1 (never the secret)."""
    return {
        "client_id": client.client_id,
        "client_id_issued_at": client.client_id_issued_at,
        **(
            {"client_secret_expires_at": client.client_secret_expires_at}
            if client.client_secret_hash
            else {}
        ),
        **(client.client_metadata or {}),
    }


def admin_view(client: Client) -> dict[str, Any]:
    """Everything an administrator may see about a client: never the secret or its hash."""
    return {
        **registration_view(client),
        "active": client.active,
        "first_party": client.first_party,
        "has_secret": client.client_secret_hash is not None,
        "access_token_ttl": client.access_token_ttl,
        "id_token_ttl": client.id_token_ttl,
        "refresh_token_ttl": client.refresh_token_ttl,
        "source": client.source,
        "created_at": client.created_at.isoformat() if client.created_at else None,
        "updated_at": client.updated_at.isoformat() if client.updated_at else None,
    }
