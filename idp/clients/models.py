"""Relying parties (OAuth 2.0 clients) and initial access tokens for registration.

Token tables (codes, refresh tokens, consents, ...) live in idp/oidc/token_models.py.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy.orm import Mapped, mapped_column

from idp.clients.uris import match_redirect_uri
from idp.extensions import UTCDateTime, db, utcnow
from idp.security import hash_secret


def secret_matches(stored_hash: str | None, presented: Any) -> bool:
    """Whether `presented` is the secret; anything but a non-empty string (a JSON number
    in a registration update, say) is simply not it."""
    if not stored_hash or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(stored_hash, hash_secret(presented))


class Client(db.Model, ClientMixin):
    """A registered relying party. Its RFC 7591 metadata lives in `client_metadata`."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(sa.String(128))
    # RFC 7591 client_id_issued_at / client_secret_expires_at (0: never), as Unix seconds.
    client_id_issued_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    client_secret_expires_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    client_metadata: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Skips the consent screen: the province's own applications.
    first_party: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # Per-client lifetimes in seconds; NULL means the provider's default setting.
    access_token_ttl: Mapped[int | None] = mapped_column()
    id_token_ttl: Mapped[int | None] = mapped_column()
    refresh_token_ttl: Mapped[int | None] = mapped_column()
    # RFC 7592 registration access token (hash), for dynamically registered clients.
    registration_token_hash: Mapped[str | None] = mapped_column(sa.String(128))
    # "cli", "manifest", "console" or "dynamic": how the registration was made.
    source: Mapped[str] = mapped_column(sa.String(16), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # ---- metadata accessors
    def meta(self, name: str, default: Any = None) -> Any:
        return (self.client_metadata or {}).get(name, default)

    @property
    def client_name(self) -> str:
        return self.meta("client_name") or self.client_id

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.meta("redirect_uris", []))

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        return list(self.meta("post_logout_redirect_uris", []))

    @property
    def grant_types(self) -> list[str]:
        return list(self.meta("grant_types", ["authorization_code"]))

    @property
    def response_types(self) -> list[str]:
        return list(self.meta("response_types", ["code"]))

    @property
    def token_endpoint_auth_method(self) -> str:
        return self.meta("token_endpoint_auth_method", "client_secret_basic")

    @property
    def scope(self) -> str:
        return self.meta("scope", "")

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def self_registered(self) -> bool:
        """Registered by the application itself (RFC 7591), not by the province's
        administrators: its name is its own claim, and it is never first-party."""
        return self.source == "dynamic"

    @property
    def skips_consent(self) -> bool:
        """First-party: one of the province's own applications, set by the administrators."""
        return self.first_party and not self.self_registered

    @property
    def audiences(self) -> list[str]:
        """Resource servers this client may obtain access tokens for (our `allowed_audiences`)."""
        return list(self.meta("allowed_audiences", []))

    @property
    def resource_server_audiences(self) -> list[str]:
        """The `aud` values under which this client is a resource server: its client_id
        (RFC 9068 3) and the `resource_server_audiences` administrators registered."""
        return [self.client_id, *self.meta("resource_server_audiences", [])]

    # ---- Authlib ClientMixin (RFC 6749 section 2)
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.redirect_uris
        # OIDC Core 3.1.2.1: redirect_uri is required; RFC 6749 3.1.2.3: a single registered
        # URI may be the default for plain OAuth requests.
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    @property
    def application_type(self) -> str:
        return self.meta("application_type", "web")

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return self.redirect_uri_for(redirect_uri) is not None

    def redirect_uri_for(self, presented: str) -> str | None:
        """The registered redirect URI the presented one names, or None (see
        idp.clients.uris.match_redirect_uri): exact string comparison (RFC 9700 2.1),
        and for native applications only, RFC 8252 7.3's loopback port rule."""
        return match_redirect_uri(
            presented, self.redirect_uris, loopback_port=self.application_type == "native"
        )

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_expires_at and self.client_secret_expires_at < int(
            utcnow().timestamp()
        ):
            return False
        return secret_matches(self.client_secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        # Introspection and revocation: the client authenticates as at the token endpoint.
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class InitialAccessToken(db.Model):
    """RFC 7591 section 3: a token that allows registering clients dynamically."""

    __tablename__ = "initial_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many registrations it still allows; NULL means unlimited until it expires.
    uses_left: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(255), default="")
    note: Mapped[str] = mapped_column(sa.String(255), default="")


class ClientJwks(db.Model):
    """The public keys at a private_key_jwt client's `jwks_uri`, as last fetched.

    Kept in the database so that every web process and `idp worker` share one copy
    (idp.oidc.client_keys): the worker refreshes it, requests read it. `next_fetch_at`
    is the earliest time anyone may fetch the jwks_uri again; taking that turn is one
    conditional UPDATE, so all processes together fetch it at most once per interval.
    """

    __tablename__ = "oauth_client_jwks"

    client_id: Mapped[str] = mapped_column(
        sa.String(128),
        sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        primary_key=True,
    )
    # The URI the keys came from: keys of a URI the client no longer has are not used.
    jwks_uri: Mapped[str] = mapped_column(sa.Text)
    # The JWK set, public members only; NULL until a fetch has succeeded.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_fetch_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Failed fetches in a row (the retry interval doubles with each); 0 after a success.
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
