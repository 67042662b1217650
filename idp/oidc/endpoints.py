"""Introspection (RFC 7662), revocation (RFC 7009) and userinfo (OIDC Core 5.3).

Access tokens are JWTs: their signature, issuer and expiry are checked without the
database, then one query answers whether the token, its grant, its client or its user was
revoked or disabled. Refresh tokens are looked up by hash.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector as _ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError, TokenValidator
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from flask import current_app
from flask import request as flask_request

from idp.clients import Client
from idp.clients import store as clients_store
from idp.extensions import utcnow
from idp.keys.ring import KEY_CACHE_SECONDS, InvalidJWT, sign_jwt, signing_algs, verify_jwt
from idp.oidc import claims as claim_values
from idp.oidc import store
from idp.oidc.grants import family_revocation_until
from idp.oidc.records import RefreshTokenRecord, UserRecord
from idp.oidc.tokens import ACCESS_TOKEN_TYP, token_audiences
from idp.profile import INTROSPECTION_AUTH_METHODS, REVOCATION_AUTH_METHODS
from idp.sessions.store import is_live

TOKEN_MAX_LENGTH = 16384


# ---------------------------------------------------------------- looking tokens up


class _VerifiedTokens:
    """Claims of access tokens whose signature was checked in the last few seconds.

    Resource servers present the same token again and again; its signature cannot change,
    and revocation is looked up in the database on every call anyway. Entries live no
    longer than the key ring's own cache of published keys (KEY_CACHE_SECONDS), so a key
    withdrawn from the JWKS stops validating tokens just as soon as without this cache.
    """

    MAX_ENTRIES = 10000

    def __init__(self) -> None:
        self.entries: dict[bytes, tuple[float, dict[str, Any]]] = {}

    def get(self, digest: bytes) -> dict[str, Any] | None:
        entry = self.entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, digest: bytes, claims: dict[str, Any]) -> None:
        if len(self.entries) >= self.MAX_ENTRIES:
            self.entries.clear()
        self.entries[digest] = (time.monotonic() + KEY_CACHE_SECONDS, claims)


_verified = _VerifiedTokens()


def access_token_claims(token: str) -> dict[str, Any] | None:
    """The claims of one of our access tokens (signature, typ and iss checked), or None."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > TOKEN_MAX_LENGTH:
        return None
    digest = hashlib.sha256(token.encode()).digest()
    cached = _verified.get(digest)
    if cached is not None and cached.get("iss") == current_app.config["ISSUER"]:
        return cached
    try:
        _header, claims = verify_jwt(token, typ=ACCESS_TOKEN_TYP)
    except InvalidJWT:
        return None
    if claims.get("iss") != current_app.config["ISSUER"]:
        return None
    for name, kind in (("exp", int), ("iat", int), ("jti", str), ("client_id", str), ("sub", str)):
        if not isinstance(claims.get(name), kind):
            return None
    _verified.put(digest, claims)
    return claims


def revocation_keys(claims: dict[str, Any]) -> list[str]:
    keys = [f"jti:{claims['jti']}"]
    if isinstance(claims.get("gid"), str):
        keys.append(f"grant:{claims['gid']}")
    return keys


@dataclass
class AccessTokenInfo:
    """An access token as the endpoints see it (Authlib's token interface)."""

    claims: dict[str, Any]
    revoked: bool = False
    user: UserRecord | None = None
    client: Client | None = None

    @property
    def is_user_token(self) -> bool:
        return isinstance(self.claims.get("gid"), str)

    def is_expired(self) -> bool:
        return self.claims["exp"] <= int(utcnow().timestamp())

    def is_revoked(self) -> bool:
        return self.revoked

    def check_client(self, client: Client) -> bool:
        return self.claims["client_id"] == client.client_id

    @property
    def audiences(self) -> list[str]:
        return token_audiences(self.claims)

    def get_scope(self) -> str:
        scope = self.claims.get("scope")
        return scope if isinstance(scope, str) else ""

    def introspection(self) -> dict[str, Any]:
        claims = self.claims
        payload = {
            "active": True,
            "token_type": "Bearer",
            "scope": self.get_scope(),
            "client_id": claims["client_id"],
            "sub": claims["sub"],
            "aud": claims.get("aud"),
            "iss": claims["iss"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": claims["jti"],
        }
        for name in ("auth_time", "acr", "amr"):
            if name in claims:
                payload[name] = claims[name]
        return payload


@dataclass
class RefreshTokenInfo:
    row: RefreshTokenRecord
    active: bool

    def is_expired(self) -> bool:
        return not self.active

    def is_revoked(self) -> bool:
        return not self.active

    def check_client(self, client: Client) -> bool:
        return self.row.check_client(client)

    def introspection(self) -> dict[str, Any]:
        grant = self.row.grant
        return {
            "active": True,
            "scope": grant.scope,
            "client_id": self.row.client_id,
            "sub": grant.user.sub,
            "iss": current_app.config["ISSUER"],
            "exp": int(self.row.expires_at.timestamp()),
            "iat": int(self.row.created_at.timestamp()),
        }


def refresh_token_active(row: RefreshTokenRecord, now: datetime) -> bool:
    grant = row.grant
    if row.rotated_at is not None or grant.revoked_at is not None:
        return False
    if row.expires_at <= now or grant.expires_at <= now or not grant.user.is_active:
        return False
    if not grant.offline:
        return grant.sso_session is not None and is_live(grant.sso_session, now)
    return True


def lookup_token(token: str, hint: str | None) -> AccessTokenInfo | RefreshTokenInfo | None:
    """Any token of ours, whatever the hint says (RFC 7662 2.1, RFC 7009 2.1)."""
    now = utcnow()
    claims = access_token_claims(token)
    if claims is not None:
        info = AccessTokenInfo(claims)
        if not info.is_expired():
            revoked, client_active, user_active = store.token_status(
                keys=revocation_keys(claims),
                client_id=claims["client_id"],
                sub=claims["sub"] if info.is_user_token else None,
                now=now,
            )
            info.revoked = revoked or not client_active or (info.is_user_token and not user_active)
        return info
    row = store.find_refresh_token(token)
    if row is None:
        return None
    return RefreshTokenInfo(row, refresh_token_active(row, now))


def _check_token_param(request) -> None:
    token = request.form.get("token")
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise InvalidRequestError("Missing or oversized 'token'.")


# ---------------------------------------------------------------- RFC 7662


def may_introspect(token: AccessTokenInfo | RefreshTokenInfo, client: Client) -> bool:
    """RFC 7662 2.1 and 4: the server decides which protected resource may introspect which
    token, so that introspection tells nobody about tokens that are none of their business.

    A client may introspect the tokens issued to it (access and refresh tokens). A resource
    server may introspect the access tokens whose `aud` names it: its client_id or one of
    its registered `resource_server_audiences`. A refresh token is never presented to a
    resource server, so only its own client ever sees it.
    """
    if token.check_client(client):
        return True
    if isinstance(token, AccessTokenInfo):
        return not set(token.audiences).isdisjoint(client.resource_server_audiences)
    return False


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662 for authenticated clients: their own tokens, and as resource servers the
    access tokens for their audience (may_introspect)."""

    CLIENT_AUTH_METHODS = list(INTROSPECTION_AUTH_METHODS)

    def check_params(self, request, client) -> None:
        # An unknown token_type_hint is ignored: the search covers every type anyway.
        _check_token_param(request)

    def query_token(self, token_string, token_type_hint):
        return lookup_token(token_string, token_type_hint)

    def check_permission(self, token, client, request) -> bool:
        # A refusal reads {"active": false}, the answer an unknown token gets (RFC 7662 2.2).
        return may_introspect(token, client)

    def introspect_token(self, token) -> dict[str, Any]:
        return token.introspection()


# ---------------------------------------------------------------- RFC 7009


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009. A refresh token takes its whole grant with it (RFC 7009 2.1)."""

    CLIENT_AUTH_METHODS = list(REVOCATION_AUTH_METHODS)

    def check_params(self, request, client) -> None:
        _check_token_param(request)

    def query_token(self, token_string, token_type_hint):
        return lookup_token(token_string, token_type_hint)

    def revoke_token(self, token, request) -> None:
        now = utcnow()
        if isinstance(token, AccessTokenInfo):
            if not token.is_expired():
                until = datetime.fromtimestamp(token.claims["exp"], now.tzinfo)
                store.add_revocation(f"jti:{token.claims['jti']}", until, "revoked", now)
            return
        store.revoke_grant_family(
            token.row.grant.gid,
            until=family_revocation_until(request.client, now),
            reason="revoked",
            now=now,
        )


# ---------------------------------------------------------------- userinfo


class MissingBearerToken(InvalidTokenError):
    """RFC 6750 3.1: no credentials at all, so the challenge carries no error code."""

    description = "An access token is required."

    def get_headers(self):
        headers = default_json_headers[:]
        headers.append(("WWW-Authenticate", f'Bearer realm="{self.realm}"'))
        return headers


class InvalidBearerRequest(InvalidTokenError):
    """RFC 6750 3.1 invalid_request: a malformed request (e.g. two ways to send the token)."""

    error = "invalid_request"
    status_code = 400


class InsufficientScope(InsufficientScopeError):
    """RFC 6750 3.1 insufficient_scope, with its WWW-Authenticate challenge."""

    def __init__(self, realm: str) -> None:
        super().__init__()
        self.realm = realm

    def get_headers(self):
        headers = super().get_headers()
        headers.append(
            (
                "WWW-Authenticate",
                f'Bearer realm="{self.realm}", error="insufficient_scope", scope="openid"',
            )
        )
        return headers


class BearerTokenValidator(TokenValidator):
    """RFC 6750 bearer tokens that are our JWT access tokens for a user."""

    TOKEN_TYPE = "bearer"

    def authenticate_token(self, token_string: str) -> AccessTokenInfo | None:
        claims = access_token_claims(token_string)
        if claims is None:
            return None
        info = AccessTokenInfo(claims)
        if info.is_expired() or not info.is_user_token:
            return info if info.is_expired() else None
        user = store.user_for_token(
            keys=revocation_keys(claims),
            client_id=claims["client_id"],
            sub=claims["sub"],
            now=utcnow(),
        )
        # The query checked that the client is active; its registration (for the signed
        # userinfo setting) may come from the cache.
        client = (
            clients_store.find_active_client_cached(claims["client_id"])
            if user is not None
            else None
        )
        if user is None or client is None:
            info.revoked = True
        else:
            info.user, info.client = user, client
        return info

    def validate_token(self, token, scopes, request) -> None:
        if token is None or token.is_expired() or token.is_revoked():
            raise InvalidTokenError(realm=self.realm)
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScope(self.realm)


class ResourceProtector(_ResourceProtector):
    """Reads the bearer token from the Authorization header or the form body (RFC 6750 2.1,
    2.2), never from the query string, and never from both."""

    def parse_request_authorization(self, request):
        validator = self._token_validators["bearer"]
        header = flask_request.headers.get("Authorization")
        form_token = None
        if flask_request.method == "POST" and flask_request.mimetype == (
            "application/x-www-form-urlencoded"
        ):
            form_token = flask_request.form.get("access_token")
        if header and form_token:
            raise InvalidBearerRequest("Use one way of sending the access token.", realm=self.realm)
        if form_token:
            return validator, form_token
        if not header:
            raise MissingBearerToken(realm=self.realm)
        scheme, _, token_string = header.partition(" ")
        if scheme.lower() != "bearer" or not token_string.strip():
            raise InvalidBearerRequest("Use the Bearer scheme.", realm=self.realm)
        return validator, token_string.strip()

    @property
    def realm(self) -> str:
        return current_app.config["ISSUER"]


class UserInfoEndpoint(_UserInfoEndpoint):
    """OIDC Core 5.3: claims of the token's scopes, plus those asked for with `claims`."""

    def __call__(self, request):
        token: AccessTokenInfo = self.resource_protector.acquire_token("openid")
        user, client = token.user, token.client
        assert user is not None and client is not None
        # The token's userinfo_claims were limited when it was issued; the client's
        # registered scopes are applied again, in case the administrators narrowed them.
        extra = token.claims.get("userinfo_claims")
        named = [n for n in extra if isinstance(n, str)] if isinstance(extra, list) else []
        names = claim_values.requested_names(
            token.get_scope(),
            {"userinfo": dict.fromkeys(named)},
            "userinfo",
            client_scope=client.scope,
        )
        unit_path = (
            store.load_unit_path(user.unit_id) if claim_values.needs_unit_path(names) else None
        )
        user_info = claim_values.user_claims(user, names, unit_path)
        alg = client.meta("userinfo_signed_response_alg")
        if alg and alg in signing_algs():
            # OIDC Core 5.3.2: a signed response carries iss and aud.
            user_info["iss"] = current_app.config["ISSUER"]
            user_info["aud"] = client.client_id
            body = sign_jwt(user_info, alg=alg, typ="JWT")
            return 200, body, [("Content-Type", "application/jwt"), ("Cache-Control", "no-store")]
        return 200, user_info, default_json_headers
