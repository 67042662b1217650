"""Who calls the admin API, and what they may do: bearer tokens from our own token endpoint.

Every operation is declared with `operation(ADMIN_READ)` or `operation(ADMIN_WRITE)`
(idp.admin.permissions). At every call, in this order:

1. `Authorization: Bearer <token>`, only in the header. No token: 401 with a bare
   `WWW-Authenticate: Bearer realm=...` challenge (RFC 6750 3.1); another scheme: 400
   invalid_request.
2. The token is one of our access tokens, checked as userinfo checks them
   (idp.oidc.resource): signature, issuer, expiry, revocation of the token and its grant,
   client and person still active, and an audience that is this API's (API_AUDIENCE, the
   issuer + /admin/api/v1) or the client's own default. Otherwise 401 invalid_token.
3. A token issued to a person must come from a sign-in at the console's level (a second
   factor or a passkey, urn:hg:loa:2) reached by our own factors: its `amr` must show it
   with an upstream sign-in (`fed`) counted as a first factor only; otherwise 401
   insufficient_user_authentication with the level to ask for (RFC 9470 3).
4. The token's scopes must allow the operation (admin:write covers reading): otherwise 403
   insufficient_scope naming the scope needed (RFC 6750 3.1).
5. What it acts on: the person's administration scope read now (scope_for_token), or
   everything for the client_credentials token of a client marked `admin_automation`.
   Nothing: 403.

Every 403 is an "admin.denied" audit event (actor: the person's sub, or the client_id).
The view then finds the caller with `caller()`; a view that meets an object outside the
caller's scope calls `deny()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, g, request

from idp import audit
from idp.admin import permissions
from idp.admin.api.blueprint import API_PREFIX
from idp.admin.api.problems import Problem
from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE, AdminScope
from idp.assurance import ACR_MFA, acr_by_own_factors, rank
from idp.clients import store as clients_store
from idp.directory.models import User
from idp.directory.store import find_user_by_sub
from idp.extensions import commit
from idp.oidc.resource import (
    INSUFFICIENT_SCOPE,
    INSUFFICIENT_USER_AUTHENTICATION,
    BearerRejected,
    BearerToken,
    bearer_from_header,
    validate_access_token,
)

# The level a person's token must come from: the console's (idp.admin.console).
API_ACR = ACR_MFA
OPERATION_SCOPES = (ADMIN_READ, ADMIN_WRITE)


@dataclass(frozen=True)
class Caller:
    """The caller of this request: the token, and what it acts on."""

    token: BearerToken
    scope: AdminScope
    # The person the token was issued to; None for an automation client.
    person: User | None

    @property
    def actor(self) -> str:
        """For audit events: the person's sub, or the client_id."""
        return self.scope.actor


def api_audience() -> str:
    """The `aud` that names this API (RFC 8707 resource indicator / RFC 9068 aud)."""
    return current_app.config["ISSUER"] + API_PREFIX


def _challenge(error: str | None, description: str = "", **extra: str) -> dict[str, str]:
    parts = [f'realm="{current_app.config["ISSUER"]}"']
    if error:
        parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{description}"')
    parts.extend(f'{name}="{value}"' for name, value in extra.items())
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def _unauthorised(rejected: BearerRejected) -> Problem:
    kind = "invalid-token" if rejected.status == 401 else None
    return Problem(
        rejected.status,
        rejected.description,
        kind=kind,
        headers=_challenge(rejected.error, rejected.description),
    )


def deny(actor: str, detail: str = "This is outside what you administer.", **headers) -> Problem:
    """A 403 (to raise) with its "admin.denied" audit event, committed now."""
    permissions.record_denied(actor, request.path, audit.request_origin())
    commit()
    return Problem(403, detail, kind="forbidden", headers=headers)


def _insufficient_scope(token: BearerToken, needed: str) -> Problem:
    permissions.record_denied(_token_actor(token), request.path, audit.request_origin())
    commit()
    return Problem(
        403,
        f"This operation needs the {needed} scope.",
        kind="insufficient-scope",
        headers=_challenge(INSUFFICIENT_SCOPE, scope=needed),
    )


def _token_actor(token: BearerToken) -> str:
    return token.sub if token.for_person else token.client_id


def _own_factors_reach_api_level(token: BearerToken) -> bool:
    """The token's level, and the level its `amr` reaches by our own factors (an upstream
    sign-in, `fed`, counts as a first factor only): both the console's. A person's token
    without `amr` cannot show its level was ours, so it is refused too."""
    amr = token.claims.get("amr")
    if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
        return False
    return rank(token.acr) >= rank(API_ACR) and rank(acr_by_own_factors(amr)) >= rank(API_ACR)


def authenticate(needed: str) -> Caller:
    """The caller of this request, or a Problem (401, 403) to answer with."""
    try:
        token = validate_access_token(
            bearer_from_header(request.headers.get("Authorization")), audience=api_audience()
        )
    except BearerRejected as rejected:
        raise _unauthorised(rejected) from None
    if not permissions.token_allows(token.scopes, needed):
        raise _insufficient_scope(token, needed)
    if token.for_person and not _own_factors_reach_api_level(token):
        description = "Sign in with a second factor of this provider to use the admin API."
        raise Problem(
            401,
            description,
            kind="insufficient-user-authentication",
            headers=_challenge(INSUFFICIENT_USER_AUTHENTICATION, description, acr_values=API_ACR),
        )
    person = find_user_by_sub(token.sub) if token.for_person else None
    # The registration read now, not the per-process cache: marking a client for automation
    # or taking the mark away counts from the next call.
    client = clients_store.find_active_client(token.client_id)
    admin_scope = (
        permissions.scope_for_token(person, client, for_person=token.for_person)
        if client is not None
        else None
    )
    if admin_scope is None:
        raise deny(_token_actor(token), "The token's holder administers nothing.")
    return Caller(token=token, scope=admin_scope, person=person)


def operation(needed: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an API view and the scope it needs (ADMIN_READ or ADMIN_WRITE)."""
    if needed not in OPERATION_SCOPES:
        raise ValueError(f"unknown admin API scope {needed!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            g.admin_api_caller = authenticate(needed)
            return view(*args, **kwargs)

        guarded.admin_api_scope = needed  # type: ignore[attr-defined]
        return guarded

    return decorate


def caller() -> Caller:
    """The caller of this request (set by `operation`)."""
    return g.admin_api_caller


def scope() -> AdminScope:
    """The caller's administration scope: what the view may show and change."""
    return caller().scope
