"""Authlib grants and grant extensions, their storage hooks filled in with idp.oidc.store.

- AuthorizationCodeGrant (RFC 6749 4.1) with OpenIDCode (OIDC Core 3.1), and the two
  extensions of idp.oidc.request_checks (PKCE with S256 only, and the parameters Authlib
  leaves to us).
- RefreshTokenGrant (RFC 6749 6) with rotation and replay detection (RFC 9700 4.14.2)
  and OpenIDRefresh (an ID token on refresh, OIDC Core 12.2).
- ClientCredentialsGrant (RFC 6749 4.4), scopes and audiences limited per client.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from flask import current_app

from idp import audit
from idp.extensions import utcnow
from idp.oidc import store, tokens
from idp.oidc.records import AuthorizationCodeRecord, GrantRecord, RefreshTokenRecord
from idp.oidc.tokens import Principal
from idp.profile import (
    SCOPE_OFFLINE,
    TOKEN_ENDPOINT_AUTH_METHODS,
    USER_SCOPES,
)
from idp.sessions.store import is_live

log = logging.getLogger("idp.oidc")

CONFIDENTIAL_AUTH_METHODS = [m for m in TOKEN_ENDPOINT_AUTH_METHODS if m != "none"]


class InvalidTargetError(OAuth2Error):
    """RFC 8707 2: a `resource` the client may not obtain tokens for."""

    error = "invalid_target"


class RedirectUriError(InvalidRequestError):
    """A missing or unregistered redirect_uri: answered on a page, never by redirecting."""


def _now() -> datetime:
    return utcnow()


def requested_audience(client: Any, form: Any) -> list[str] | None:
    """RFC 8707 `resource` values, each one of the client's allowed audiences."""
    resources = form.getlist("resource") if hasattr(form, "getlist") else []
    if not resources:
        return None
    allowed = set(client.audiences)
    for resource in resources:
        if resource not in allowed:
            raise InvalidTargetError("The resource is not an allowed audience of this client.")
    return list(dict.fromkeys(resources))


def refresh_lifetime(client: Any, offline: bool) -> int:
    if client.refresh_token_ttl:
        return int(client.refresh_token_ttl)
    key = "OFFLINE_TOKEN_TTL_SECONDS" if offline else "REFRESH_TOKEN_TTL_SECONDS"
    return int(current_app.config[key])


def family_revocation_until(client: Any, now: datetime) -> datetime:
    """Every access token of a family expires before this: keep its revocation till then."""
    return now + timedelta(seconds=tokens.lifetime(client, "access_token"))


def revoke_replayed_family(
    gid: str, client: Any, subject: str, now: datetime, *, reason: str, event: str
) -> None:
    """A used-up code or rotated refresh token came back (RFC 9700 4.14.2, RFC 6749
    4.1.2): end its whole token family and record the attempt.

    Only the replay that ends the family is recorded: a spent code replayed again and again
    (no secret needed for a public client) must not add an audit row each time.
    """
    until = family_revocation_until(client, now)
    if not store.revoke_grant_family(gid, until=until, reason=reason, now=now):
        return
    audit.record(
        event,
        actor=client.client_id,
        subject=subject,
        outcome="failure",
        **audit.request_origin(),
    )


def principal_of_grant(grant: GrantRecord) -> Principal:
    return Principal(
        user=grant.user,
        auth_time=grant.auth_time,
        acr=grant.acr,
        amr=list(grant.amr or []),
        sid=grant.sid,
        sso_session_id=grant.sso_session_id,
        grant_id=grant.gid,
        claims=grant.claims,
    )


def complete_then_store(grant: Any, token: dict[str, Any]) -> tuple[int, dict[str, Any], Any]:
    """Let the grant's extensions finish the token, then store it: the token response.

    Authlib stores the token (save_token) and then lets extensions add to it, so the ID
    token (OpenIDCode, OpenIDRefresh) would be signed after the first write. SQLite holds
    its write lock from a transaction's first write to its commit, and an RS256 signature
    is the slowest step of an exchange: here the writes come last, just before the view
    commits, and the other worker's writes, sleeping in SQLite's busy handler meanwhile,
    wait less. What it buys on SQLite under wrk: refresh rotations 1,093 against 761 per
    second, SSO hops 419 against 379 (`python -m bench.layers --only token-response-order`,
    docs/performance.md).
    """
    response = (200, token, grant.TOKEN_RESPONSE_HEADER)
    grant.execute_hook("after_create_token_response", response)
    grant.save_token(token)
    return response


class AudienceMixin:
    """Token generation through idp.oidc.tokens, with the audience of RFC 8707 resources."""

    request: Any

    def generate_token(
        self,
        user=None,
        scope=None,
        grant_type=None,
        expires_in=None,
        include_refresh_token=True,
    ):
        return tokens.generate_token(
            grant_type or self.GRANT_TYPE,  # type: ignore[attr-defined]
            self.request.client,
            user=user,
            scope=scope,
            include_refresh_token=include_refresh_token,
            audience=requested_audience(self.request.client, self.request.form),
        )


# ---------------------------------------------------------------- authorization code


class AuthorizationCodeGrant(AudienceMixin, grants.AuthorizationCodeGrant):
    """RFC 6749 4.1. Codes are single use, short-lived and stored hashed."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_ENDPOINT_AUTH_METHODS)

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """RFC 6749 3.1.2.3 / RFC 9700 2.1: exact match, never a redirect on failure."""
        presented = request.payload.redirect_uri
        if presented:
            # Where the response goes is rebuilt from the registration, never the presented
            # string itself (idp.clients.uris).
            redirect_uri = client.redirect_uri_for(presented)
            if redirect_uri is None:
                raise RedirectUriError("The redirect_uri is not registered for this client.")
            return redirect_uri
        default = client.get_default_redirect_uri()
        if not default:
            raise RedirectUriError("Missing 'redirect_uri' in request.")
        return default

    def generate_authorization_code(self) -> str:
        """256 bits from the OS (Authlib draws 48 characters one by one: slower)."""
        return store.new_secret()

    def save_authorization_code(self, code: str, request) -> None:
        principal: Principal = request.user
        client = request.client
        now = _now()
        data = request.payload.data
        store.save_code(
            code,
            client_id=client.client_id,
            user_id=principal.user.id,
            sso_session_id=principal.sso_session_id,
            grant_id=store.new_secret(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce") or None,
            auth_time=principal.auth_time,
            acr=principal.acr,
            amr=list(principal.amr),
            claims=principal.claims,
            code_challenge=data.get("code_challenge") or None,
            code_challenge_method=(
                data.get("code_challenge_method") if data.get("code_challenge") else None
            ),
            created_at=now,
            expires_at=now
            + timedelta(seconds=current_app.config["AUTHORIZATION_CODE_TTL_SECONDS"]),
        )
        if principal.sso_session_id and tokens.wants_id_token(request.scope):
            store.record_session_client(principal.sso_session_id, client.client_id, now)
        # "Who signed in where": a client's recent sign-ins in the console and the audit log.
        audit.record(
            "authorize",
            actor=principal.user.sub,
            subject=client.client_id,
            detail={"acr": principal.acr, "scope": request.scope or ""},
            **audit.request_origin(),
        )

    def query_authorization_code(self, code: str, client) -> AuthorizationCodeRecord | None:
        """The code if it is this client's, unexpired and unused.

        A second use is refused and revokes what the first use issued (RFC 6749 4.1.2).
        The code is claimed (marked used, atomically) by save_token, the first write of
        the exchange: two exchanges racing each other cannot both get tokens.
        """
        row = store.find_code(code)
        if row is None or row.client_id != client.client_id:
            return None
        now = _now()
        if row.used_at is not None:
            self._code_reused(row, client, now)
            return None
        if row.expires_at <= now:
            return None
        return row

    def _code_reused(self, row: AuthorizationCodeRecord, client, now: datetime) -> None:
        revoke_replayed_family(
            row.grant_id, client, row.user.sub, now, reason="code_reuse", event="code_reuse"
        )

    def create_token_response(self):
        """RFC 6749 4.1.4, as Authlib's, but stored last (complete_then_store)."""
        self.execute_hook("before_create_token_response")
        code = self.request.authorization_code
        user = self.authenticate_user(code)
        if not user:
            raise InvalidGrantError("There is no 'user' for this code.")
        self.request.user = user
        token = self.generate_token(
            user=user,
            scope=code.get_scope(),
            include_refresh_token=self.request.client.check_grant_type("refresh_token"),
        )
        response = complete_then_store(self, token)
        self.delete_authorization_code(code)
        return response

    def delete_authorization_code(self, authorization_code) -> None:
        """Nothing to do: save_token marked the code used."""

    def authenticate_user(self, authorization_code: AuthorizationCodeRecord) -> Principal | None:
        user = authorization_code.user
        if user is None or not user.is_active:
            return None
        sso = authorization_code.sso_session
        if sso is not None and not is_live(sso, _now()):
            # Signed out (or the session ended) between the redirect and the exchange.
            return None
        sid = sso.sid if sso is not None else None
        return Principal(
            user=user,
            auth_time=authorization_code.auth_time,
            acr=authorization_code.acr,
            amr=list(authorization_code.amr or []),
            sid=sid,
            sso_session_id=authorization_code.sso_session_id,
            grant_id=authorization_code.grant_id,
            claims=authorization_code.claims,
            nonce=authorization_code.nonce,
        )

    def save_token(self, token: dict[str, Any]) -> None:
        """Claim the code, then create the grant (token family) and, when issued, its first
        refresh token."""
        code: AuthorizationCodeRecord = self.request.authorization_code
        principal: Principal = self.request.user
        client = self.request.client
        now = _now()
        if not store.claim_code(code, now):
            # Another request exchanged it a moment ago: a replay race.
            self._code_reused(code, client, now)
            raise InvalidGrantError()
        scope = token.get("scope", "")
        offline = SCOPE_OFFLINE in scope.split()
        if "refresh_token" in token:
            if offline:
                max_age = current_app.config["OFFLINE_GRANT_MAX_SECONDS"]
                expires_at = now + timedelta(seconds=max_age)
            elif code.sso_session is not None:
                expires_at = code.sso_session.expires_at
            else:
                expires_at = now + timedelta(seconds=refresh_lifetime(client, False))
        else:
            expires_at = now + timedelta(seconds=tokens.lifetime(client, "access_token"))
        grant_id = store.create_grant(
            gid=code.grant_id,
            client_id=client.client_id,
            user_id=principal.user.id,
            sso_session_id=code.sso_session_id,
            sid=principal.sid,
            scope=scope,
            offline=offline,
            auth_time=code.auth_time,
            acr=code.acr,
            amr=list(code.amr or []),
            claims=code.claims,
            created_at=now,
            expires_at=expires_at,
        )
        if "refresh_token" in token:
            lifetime = timedelta(seconds=refresh_lifetime(client, offline))
            store.save_refresh_token(
                token["refresh_token"],
                grant_id=grant_id,
                client_id=client.client_id,
                expires_at=min(expires_at, now + lifetime),
                parent_id=None,
                now=now,
            )


class OpenIDCode(_OpenIDCode):
    """OIDC Core 3.1: an ID token from the code exchange, signed by our key ring."""

    def exists_nonce(self, nonce, request) -> bool:
        # The nonce protects the relying party, which checks it (OIDC Core 15.5.2); we bind
        # it into the ID token and keep no register of nonces.
        return False

    def generate_user_info(self, user, scope):
        raise NotImplementedError("ID token claims come from idp.oidc.tokens")

    def encode_id_token(self, token, request) -> str:
        return tokens.issue_id_token(
            request.client,
            request.user,
            token.get("scope", ""),
            access_token=token.get("access_token"),
            now=_now(),
            nonce=request.authorization_code.get_nonce(),
        )


# ---------------------------------------------------------------- refresh token


class RefreshTokenGrant(AudienceMixin, grants.RefreshTokenGrant):
    """RFC 6749 6 with rotation on every use (RFC 9700 4.14.2).

    A refresh token that was already exchanged revokes its whole family when presented
    again, except for the immediately previous token within the grace setting.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_ENDPOINT_AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def create_token_response(self):
        """RFC 6749 6, as Authlib's, but stored last (complete_then_store)."""
        self.execute_hook("before_create_token_response")
        refresh_token = self.request.refresh_token
        user = self.authenticate_user(refresh_token)
        if not user:
            raise InvalidRequestError("There is no 'user' for this token.")
        self.request.user = user
        response = complete_then_store(self, self.issue_token(user, refresh_token))
        self.revoke_old_credential(refresh_token)
        return response

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshTokenRecord | None:
        row = store.find_refresh_token(refresh_token)
        client = self.request.client
        if row is None or row.client_id != client.client_id:
            return None
        grant = row.grant
        now = _now()
        self.request.superseded = None
        if grant.revoked_at is not None:
            return None
        if row.rotated_at is not None:
            successor = self._grace_successor(row, now)
            if successor is None:
                revoke_replayed_family(
                    grant.gid,
                    client,
                    grant.user.sub,
                    now,
                    reason="refresh_replay",
                    event="refresh_token_replay",
                )
                return None
            self.request.superseded = successor
        if row.expires_at <= now or grant.expires_at <= now:
            return None
        if not grant.user.is_active:
            return None
        if not grant.offline and (grant.sso_session is None or not is_live(grant.sso_session, now)):
            # Without offline_access, refresh tokens end with the SSO session.
            return None
        return row

    def _grace_successor(self, row: RefreshTokenRecord, now: datetime) -> RefreshTokenRecord | None:
        """The current token that replaced `row`, if `row` may still be exchanged (grace)."""
        grace = current_app.config["REFRESH_TOKEN_REUSE_GRACE_SECONDS"]
        if not grace or row.rotated_at is None or (now - row.rotated_at).total_seconds() > grace:
            return None
        successor = store.successor_of(row)
        if successor is None or successor.rotated_at is not None:
            return None
        return successor

    def authenticate_user(self, refresh_token: RefreshTokenRecord) -> Principal:
        return principal_of_grant(refresh_token.grant)

    def save_token(self, token: dict[str, Any]) -> None:
        """Rotate: the presented token (or, in grace, its successor) is used up, atomically."""
        row: RefreshTokenRecord = self.request.refresh_token
        client = self.request.client
        grant = row.grant
        now = _now()
        used = self.request.superseded or row
        if not store.claim_refresh_token(used, now):
            # Another request exchanged it a moment ago: a replay race.
            store.revoke_grant_family(
                grant.gid,
                until=family_revocation_until(client, now),
                reason="refresh_replay",
                now=now,
            )
            raise InvalidGrantError()
        expires_at = min(
            grant.expires_at, now + timedelta(seconds=refresh_lifetime(client, grant.offline))
        )
        store.save_refresh_token(
            token["refresh_token"],
            grant_id=grant.id,
            client_id=grant.client_id,
            expires_at=expires_at,
            parent_id=row.id,
            now=now,
        )

    def revoke_old_credential(self, refresh_token) -> None:
        """Nothing more to do: save_token marked the old token rotated."""


class OpenIDRefresh:
    """OIDC Core 12.2: a fresh ID token on refresh, for the original authentication."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_create_token_response", self.process_token)

    def process_token(self, grant, response) -> None:
        _status, token, _headers = response
        if not tokens.wants_id_token(token.get("scope")):
            return
        token["id_token"] = tokens.issue_id_token(
            grant.request.client,
            grant.request.user,
            token["scope"],
            access_token=token.get("access_token"),
            now=_now(),
        )


# ---------------------------------------------------------------- client credentials


class ClientCredentialsGrant(AudienceMixin, grants.ClientCredentialsGrant):
    """RFC 6749 4.4 for confidential clients; nothing is stored."""

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client = self.request.client
        allowed = [s for s in client.scope.split() if s not in USER_SCOPES]
        requested = (self.request.payload.scope or "").split()
        if requested:
            if any(s not in allowed for s in requested):
                raise InvalidScopeError("The client may not request this scope.")
            self.request.scope = " ".join(dict.fromkeys(requested))
        else:
            self.request.scope = " ".join(allowed)

    def create_token_response(self):
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER
