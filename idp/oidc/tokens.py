"""Access tokens (JWT, RFC 9068), ID tokens (OIDC Core 2) and the token response.

Access tokens are self-contained: nothing is stored when one is issued. They carry `gid`,
the grant (token family) they come from, so that revoking the family reaches them too;
client_credentials tokens have none.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oidc.core.util import create_half_hash
from flask import current_app

from idp.clients import Client
from idp.directory.models import User
from idp.extensions import utcnow
from idp.keys.ring import InvalidJWT, sign_jwt, signing_algs, verify_jwt
from idp.oidc import claims as claim_values
from idp.oidc import store
from idp.oidc.records import UserRecord
from idp.profile import SCOPE_OPENID

log = logging.getLogger("idp.oidc")

ACCESS_TOKEN_TYP = "at+jwt"


@dataclass
class Principal:
    """The person a token is for, with how and when they authenticated.

    Authlib passes this around as the "user" of a grant.
    """

    # The directory's user, or the same columns read by idp.oidc.store on the token paths.
    user: User | UserRecord
    auth_time: datetime
    acr: str
    amr: list[str]
    sid: str | None = None
    sso_session_id: int | None = None
    # The grant (token family) the tokens belong to: `gid`.
    grant_id: str | None = None
    claims: dict[str, Any] | None = None
    nonce: str | None = None

    def get_user_id(self) -> str:
        return self.user.sub


def lifetime(client: Client, kind: str) -> int:
    """Seconds a token of `kind` ("access_token", "id_token", "refresh_token") lives."""
    own = getattr(client, f"{kind}_ttl", None)
    if own:
        return int(own)
    defaults = {
        "access_token": "ACCESS_TOKEN_TTL_SECONDS",
        "id_token": "ID_TOKEN_TTL_SECONDS",
        "refresh_token": "REFRESH_TOKEN_TTL_SECONDS",
    }
    return int(current_app.config[defaults[kind]])


def id_token_alg(client: Client) -> str:
    """RS256, or the client's registered id_token_signed_response_alg when we sign with it."""
    wanted = client.meta("id_token_signed_response_alg")
    if wanted and wanted != "RS256":
        if wanted in signing_algs():
            return wanted
        log.warning("client %s asks for unavailable id token alg; using RS256", client.client_id)
    return "RS256"


def issuer() -> str:
    return current_app.config["ISSUER"]


def token_audiences(claims: dict[str, Any]) -> list[str]:
    """The `aud` of a token's claims as a list (RFC 7519 4.1.3: a string or an array)."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []


def default_audience(client: Client) -> list[str]:
    """RFC 9068 3: the client's resource servers, or the client itself when it has none."""
    return client.audiences or [client.client_id]


def issue_access_token(
    client: Client,
    scope: str,
    principal: Principal | None,
    audience: list[str],
    now: datetime,
) -> tuple[str, int]:
    """A signed JWT access token and its lifetime in seconds."""
    expires_in = lifetime(client, "access_token")
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer(),
        "sub": principal.user.sub if principal else client.client_id,
        "aud": audience[0] if len(audience) == 1 else list(audience),
        "exp": iat + expires_in,
        "iat": iat,
        "jti": secrets.token_urlsafe(16),
        "client_id": client.client_id,
        "scope": scope,
    }
    if principal is not None:
        claims["auth_time"] = int(principal.auth_time.timestamp())
        if principal.acr:
            claims["acr"] = principal.acr
        if principal.amr:
            claims["amr"] = list(principal.amr)
        if principal.grant_id:
            claims["gid"] = principal.grant_id
        extra = claim_values.requested_names(
            "", principal.claims, "userinfo", client_scope=client.scope
        )
        if extra:
            # Claims the client asked for at userinfo beyond its scopes (OIDC Core 5.5).
            claims["userinfo_claims"] = sorted(extra)
    alg = current_app.config["ACCESS_TOKEN_SIGNING_ALG"]
    return sign_jwt(claims, alg=alg, typ=ACCESS_TOKEN_TYP), expires_in


def issue_id_token(
    client: Client,
    principal: Principal,
    scope: str,
    *,
    access_token: str | None,
    now: datetime,
    nonce: str | None = None,
) -> str:
    """An ID token (OIDC Core 2, 3.1.3.6) for the client, with the claims of its scopes."""
    alg = id_token_alg(client)
    iat = int(now.timestamp())
    names = claim_values.requested_names(
        scope, principal.claims, "id_token", client_scope=client.scope
    )
    unit_path = (
        store.load_unit_path(principal.user.unit_id)
        if claim_values.needs_unit_path(names)
        else None
    )
    claims = claim_values.user_claims(principal.user, names, unit_path)
    claims.update(
        {
            "iss": issuer(),
            "sub": principal.user.sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": iat + lifetime(client, "id_token"),
            "iat": iat,
            "auth_time": int(principal.auth_time.timestamp()),
        }
    )
    if nonce:
        claims["nonce"] = nonce
    if principal.acr:
        claims["acr"] = principal.acr
    if principal.amr:
        claims["amr"] = list(principal.amr)
    if principal.sid:
        claims["sid"] = principal.sid
    if access_token:
        at_hash = create_half_hash(access_token, alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode("ascii")
    return sign_jwt(claims, alg=alg, typ="JWT")


def verify_id_token_hint(hint: str) -> dict[str, Any] | None:
    """The claims of an ID token this provider issued, or None: what an `id_token_hint`
    must be (OIDC Core 3.1.2.1, RP-Initiated Logout 1.0 section 2).

    Our signature with a published key (one signed before a rotation still counts), our
    `iss`, and the claims every ID token has (OIDC Core 2: sub, aud, exp, iat). We sign other
    JWTs with the same keys, and none of them is an ID token: access tokens are typed
    `at+jwt` (RFC 9068 2.1), logout tokens `logout+jwt` and carry `events` (Back-Channel
    Logout 1.0 2.4), a signed userinfo response has no `exp` or `iat` (OIDC Core 5.3.2).
    `exp` may be past: an expired ID token is still a hint (RP-Initiated Logout 1.0 2).
    """
    try:
        _header, claims = verify_jwt(hint, typ="JWT")
    except InvalidJWT:
        return None
    if claims.get("iss") != issuer() or not isinstance(claims.get("sub"), str):
        return None
    if not token_audiences(claims) or "events" in claims:
        return None
    if not all(isinstance(claims.get(name), int) for name in ("exp", "iat")):
        return None
    return claims


def allowed_scope(client: Client, scope: str | None) -> str:
    """The requested scopes the client is registered for, in the order asked."""
    return client.get_allowed_scope(scope or "")


def generate_token(
    grant_type: str,
    client: Client,
    user: Principal | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
    audience: list[str] | None = None,
) -> dict[str, Any]:
    """The token response body (RFC 6749 5.1); Authlib's token generator contract.

    The refresh token is a fresh random string: the grant stores its hash (save_token).
    """
    now = utcnow()
    granted = allowed_scope(client, scope)
    access_token, lifetime_seconds = issue_access_token(
        client, granted, user, audience or default_audience(client), now
    )
    token: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime_seconds,
    }
    if granted:
        token["scope"] = granted
    if include_refresh_token and user is not None:
        token["refresh_token"] = store.new_secret()
    return token


def wants_id_token(scope: str | None) -> bool:
    return SCOPE_OPENID in (scope or "").split()
