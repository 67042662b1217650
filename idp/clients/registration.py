"""Dynamic registration (RFC 7591) and its management (RFC 7592), without HTTP.

A registration spends one use of an initial access token and stores the client in one
transaction. The registration access token that manages the client afterwards is returned
once and stored hashed on the client row.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp import audit
from idp.clients import initial_access, store
from idp.clients import service as clients_service
from idp.clients.metadata import MetadataPolicy
from idp.clients.models import Client
from idp.security import hash_secret

REGISTRATION_TOKEN_BYTES = 32


class TokenRejected(Exception):
    """The initial access token or registration access token is missing or not valid."""


@dataclass(frozen=True)
class Registered:
    client: Client
    client_secret: str | None
    registration_access_token: str


def register_client(
    initial_access_token: str,
    metadata: Mapping[str, Any],
    policy: MetadataPolicy,
    origin: Mapping[str, str | None] | None = None,
) -> Registered:
    """Register a client for the bearer of a valid initial access token (RFC 7591 3.1).

    Raises TokenRejected when the token has no use left by the time it is spent (another
    registration used it meanwhile) and InvalidClientMetadata for bad metadata; in both cases
    nothing is stored and the token keeps its uses.
    """
    row = initial_access.find_valid_token(initial_access_token)
    if row is None:
        raise TokenRejected()
    result = clients_service.build_client(metadata, policy, source="dynamic")
    if not initial_access.spend_token(initial_access_token):
        raise TokenRejected()
    registration_token = secrets.token_urlsafe(REGISTRATION_TOKEN_BYTES)
    result.client.registration_token_hash = hash_secret(registration_token)
    audit.record(
        "client.register",
        actor=f"registration-token:{row.id}",
        subject=result.client.client_id,
        ip=(origin or {}).get("ip"),
        user_agent=(origin or {}).get("user_agent"),
        detail={"auth_method": result.client.token_endpoint_auth_method},
    )
    return Registered(result.client, result.client_secret, registration_token)


def authenticate(client_id: str, registration_access_token: str | None) -> Client:
    """The client that `registration_access_token` manages (RFC 7592 section 2).

    An unknown client and a wrong token get the same answer, so the endpoint does not tell
    which client ids exist.
    """
    client = store.find_client(client_id)
    expected = client.registration_token_hash if client is not None else None
    presented = hash_secret(registration_access_token or "")
    # Compare even when there is nothing to compare with, to keep the timing uniform.
    matches = hmac.compare_digest(expected or hash_secret(""), presented)
    if client is None or not expected or not registration_access_token or not matches:
        raise TokenRejected()
    return client


def update_client(
    client: Client, metadata: Mapping[str, Any], policy: MetadataPolicy
) -> clients_service.ClientResult:
    """RFC 7592 section 2.2: the request replaces the metadata; omitted fields are removed."""
    return clients_service.update_client(
        client.client_id, metadata, policy, actor=f"client:{client.client_id}", replace=True
    )


def delete_client(client: Client) -> None:
    """RFC 7592 section 2.3: the client id, its secret and its registration token stop working."""
    clients_service.delete_client(client.client_id, actor=f"client:{client.client_id}")
