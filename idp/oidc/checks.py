"""What an authorization request needs from the person before a code can be issued.

A pipeline of small checks (prompt, id_token_hint, max_age, acr, consent), run after
Authlib has validated the request itself. `decide()` returns NeedLogin, NeedConsent or
Proceed, or raises the OAuth error that goes back to the client (prompt=none, an essential
acr that cannot be met, a bad id_token_hint).

Re-authentication (prompt=login, max_age, step-up) sends the person to the sign-in page
with a signed login ticket in the return URL: once back, a session whose auth_time is not
older than the ticket counts as fresh, so the request does not loop. A ticket counts only
for the request it was made for (a digest of its parameters), only in the browser it was
made in (its nonce waits in that browser's page session) and only once (the nonce is
removed when a code is issued). A ticket picked up anonymously and opened in a signed-in
browser (as in a cross-site request, RFC 9700 4.7), or kept in a browser's history (4.3),
cannot stand in for the sign-in that prompt=login or max_age asks for (OIDC Core 3.1.2.1).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from idp import assurance
from idp.oidc.tokens import token_audiences, verify_id_token_hint
from idp.profile import ACR_RANK, CLAIM_SCOPE
from idp.sessions.models import SsoSession

LOGIN_TICKET_PARAM = "login_ticket"
LOGIN_TICKET_MAX_AGE_SECONDS = 3600


class UnmetAuthenticationRequirementsError(OAuth2Error):
    """OpenID Connect Core Unmet Authentication Requirements 1.0: an essential acr that no
    sign-in method available now can satisfy."""

    error = "unmet_authentication_requirements"


@dataclass
class AuthorizationContext:
    """The parts of a validated authorization request that concern the person."""

    client_id: str
    first_party: bool
    scopes: list[str]
    prompts: set[str] = field(default_factory=set)
    max_age: int | None = None
    id_token_hint: str | None = None
    acr_values: list[str] = field(default_factory=list)
    claims: dict[str, Any] | None = None
    # Already checked against this request and this browser (read_login_ticket).
    login_ticket: LoginTicket | None = None
    # Claims the request names beyond its scopes (idp.oidc.claims.individual_claims).
    individual_claims: list[str] = field(default_factory=list)
    consented_scopes: set[str] = field(default_factory=set)
    consented_claims: set[str] = field(default_factory=set)
    consent_given: bool = False
    # A level the client or the person's role always requires (idp.factors.policy).
    required_acr: str | None = None
    # The highest level the signed-in person can perform now (None: nobody signed in).
    user_rank: int | None = None


@dataclass
class NeedLogin:
    # Ask for credentials even though a session exists (prompt=login, max_age, step-up).
    force: bool
    acr: str | None = None
    # Only the second factor is missing: the session's password stands (step-up).
    step_up: bool = False
    # The level must be reached and the person has no second factor yet: enrol one.
    enrol: bool = False


@dataclass
class NeedConsent:
    pass


@dataclass
class Proceed:
    acr: str


Decision = NeedLogin | NeedConsent | Proceed


# ---------------------------------------------------------------- login tickets


@dataclass(frozen=True)
class LoginTicket:
    # Random; kept in the page session of the browser the ticket was made for until spent.
    nonce: str
    issued_at: datetime


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="oidc-login-ticket")


def request_digest(items: Iterable[tuple[str, str]]) -> str:
    """The authorization request's parameters (the ticket and our page's own left out), in
    any order: what a ticket is made for."""
    canonical = json.dumps(sorted(items), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def issue_login_ticket(digest: str) -> tuple[str, str]:
    """A ticket for the request with this digest, and the nonce the browser must keep."""
    nonce = secrets.token_urlsafe(16)
    return _serializer().dumps([digest, nonce]), nonce


def read_login_ticket(
    ticket: str | None, digest: str, pending: Collection[str]
) -> LoginTicket | None:
    """The ticket if it is ours, unexpired, made for this request, and its nonce is one the
    browser still holds (`pending`); otherwise None, and the request is treated as if it
    had none."""
    if not ticket:
        return None
    try:
        value, signed_at = _serializer().loads(
            ticket, max_age=LOGIN_TICKET_MAX_AGE_SECONDS, return_timestamp=True
        )
    except BadData:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return None
    made_for, nonce = value
    if made_for != digest or nonce not in pending:
        return None
    return LoginTicket(nonce, signed_at if signed_at.tzinfo else signed_at.replace(tzinfo=UTC))


# ---------------------------------------------------------------- single checks


def check_id_token_hint(hint: str | None, client_id: str) -> str | None:
    """The subject of an ID token we issued to this client (expired ones too: OIDC Core
    3.1.2.1, "previously issued ... to the Client"); never an access or logout token."""
    if not hint:
        return None
    claims = verify_id_token_hint(hint)
    if claims is None or client_id not in token_audiences(claims):
        raise InvalidRequestError("The id_token_hint is not an ID token issued to this client.")
    return claims["sub"]


def acr_request(acr_values: list[str], claims: dict[str, Any] | None) -> tuple[list[str], bool]:
    """Requested acr values in order of preference, and whether they are essential."""
    spec = ((claims or {}).get("id_token") or {}).get("acr")
    if isinstance(spec, dict):
        values = spec.get("values") if isinstance(spec.get("values"), list) else None
        if values is None and "value" in spec:
            values = [spec["value"]]
        if values:
            return [v for v in values if isinstance(v, str)], bool(spec.get("essential"))
    return list(acr_values), False


def acr_goal(
    requested: list[str],
    essential: bool,
    required: str | None,
    supported: list[str],
    user_rank: int | None,
) -> tuple[str | None, bool]:
    """The level to reach, and whether it must be reached.

    OIDC Core 3.1.2.1 and 5.5.1.1: `acr_values` is voluntary, so a level the person cannot
    perform (no second factor) is not asked for and the session's level is given instead;
    an essential `acr` claim must be met (the person enrols a factor if needed, or the
    request fails with unmet_authentication_requirements). A level required by the client
    or by the person's role (idp.factors.policy) is treated as essential. A level satisfies
    every request for a level at or below it. `user_rank` is the highest level the person
    can perform now (None: not known yet, nobody is signed in).
    """
    usable = [v for v in requested if v in supported and ACR_RANK.get(v, 0) > 0]
    goal: str | None = None
    must = False
    if essential and requested:
        if not usable:
            raise UnmetAuthenticationRequirementsError("The requested acr is not supported.")
        goal, must = min(usable, key=lambda v: ACR_RANK[v]), True
    else:
        reachable = [v for v in usable if user_rank is None or ACR_RANK[v] <= user_rank]
        goal = reachable[0] if reachable else None
    if required and ACR_RANK.get(required, 0) > ACR_RANK.get(goal or "", 0):
        if required not in supported:
            raise UnmetAuthenticationRequirementsError("The required acr is not enabled.")
        goal, must = required, True
    return goal, must


def reported_acr(requested: list[str], essential: bool, session_acr: str) -> str:
    """The `acr` claim for a session that meets the request: its own level, or for an
    essential request naming other values the strongest of them the session satisfies
    (never more than the session reached)."""
    rank = ACR_RANK.get(session_acr, 0)
    satisfied = [v for v in requested if 0 < ACR_RANK.get(v, 0) <= rank]
    if not essential or not satisfied or session_acr in requested:
        return session_acr
    return max(satisfied, key=lambda v: ACR_RANK[v])


def max_age_exceeded(max_age: int | None, auth_time: datetime, now: datetime) -> bool:
    return max_age is not None and (now - auth_time).total_seconds() > max_age


def password_time(sso: SsoSession) -> datetime:
    """When the session's first factor was last given: the password, an upstream sign-in
    (docs/upstreams.md), or a passkey with user verification (which signs in alone,
    docs/passkeys.md)."""
    first = assurance.first_factor_methods(sso.auth_times or {})
    return assurance.method_time(sso.auth_times, first, sso.auth_time)


def second_factor_time(sso: SsoSession) -> datetime:
    """When the session's second factor was last given."""
    second = assurance.second_factor_methods(sso.auth_times or {})
    return assurance.method_time(sso.auth_times, second, sso.auth_time)


def consent_needed(ctx: AuthorizationContext) -> bool:
    """Unless the person agreed to every scope and every claim named alone (by itself or
    through the scope that covers it), they are asked; first-party clients are not."""
    if ctx.consent_given:
        return False
    if "consent" in ctx.prompts:
        return True
    if ctx.first_party:
        return False
    return not set(ctx.scopes) <= ctx.consented_scopes or any(
        c not in ctx.consented_claims and CLAIM_SCOPE.get(c) not in ctx.consented_scopes
        for c in ctx.individual_claims
    )


# ---------------------------------------------------------------- the pipeline


def decide(ctx: AuthorizationContext, sso: SsoSession | None, now: datetime) -> Decision:
    prompt_none = "none" in ctx.prompts
    hint_sub = check_id_token_hint(ctx.id_token_hint, ctx.client_id)
    requested_acr, essential = acr_request(ctx.acr_values, ctx.claims)
    supported = list(current_app.config["ACR_VALUES_SUPPORTED"])

    def login(force: bool, acr: str | None = None, **how: bool) -> NeedLogin:
        if prompt_none:
            raise LoginRequiredError()
        return NeedLogin(force=force, acr=acr, **how)

    if sso is None:
        goal, must = acr_goal(requested_acr, essential, ctx.required_acr, supported, None)
        return login(False, goal, enrol=must)
    if hint_sub is not None and hint_sub != sso.user.sub:
        return login(True)
    ticket = ctx.login_ticket
    fresh = ticket is not None and sso.auth_time >= ticket.issued_at
    if not fresh and ({"login", "select_account"} & ctx.prompts):
        # select_account is treated as login, as Keycloak does: one account per browser.
        return login(True)
    if not fresh and max_age_exceeded(ctx.max_age, password_time(sso), now):
        return login(True)
    acr = check_level(ctx, sso, requested_acr, essential, supported, fresh)
    if isinstance(acr, str):
        acr = check_factor_age(ctx, sso, acr, (requested_acr, essential, supported), fresh, now)
    if isinstance(acr, NeedLogin):
        return login(acr.force, acr.acr, step_up=acr.step_up, enrol=acr.enrol)
    if consent_needed(ctx):
        if prompt_none:
            raise ConsentRequiredError()
        return NeedConsent()
    return Proceed(acr=acr)


def check_factor_age(
    ctx: AuthorizationContext,
    sso: SsoSession,
    acr: str,
    request: tuple[list[str], bool, list[str]],
    fresh: bool,
    now: datetime,
) -> str | NeedLogin:
    """max_age per level: a level with a second factor needs that factor within max_age
    too, asked again by a step-up. When it cannot be given again (removed since), the
    password level only, unless the request must have more (enrol a factor first, or fail
    once signed in again)."""
    if ACR_RANK.get(acr, 0) < 2 or not max_age_exceeded(ctx.max_age, second_factor_time(sso), now):
        return acr
    if not fresh and (ctx.user_rank is None or ctx.user_rank >= 2):
        return NeedLogin(force=True, acr=acr, step_up=True)
    requested, essential, supported = request
    goal, must = acr_goal(requested, essential, ctx.required_acr, supported, 1)
    if must and ACR_RANK.get(goal or "", 0) >= 2:
        if fresh:
            raise UnmetAuthenticationRequirementsError("The required acr is too old.")
        return NeedLogin(force=True, acr=goal, step_up=True, enrol=True)
    return assurance.ACR_PASSWORD


def check_level(
    ctx: AuthorizationContext,
    sso: SsoSession,
    requested: list[str],
    essential: bool,
    supported: list[str],
    fresh: bool,
) -> str | NeedLogin:
    """The acr to report, or the step-up that reaches the level asked for: the person is
    asked only for what is missing (the second factor; enrolment first if they must and
    have none). Raises when the level must be met and a fresh sign-in did not meet it."""
    goal, must = acr_goal(requested, essential, ctx.required_acr, supported, ctx.user_rank)
    if goal is None or ACR_RANK.get(goal, 0) <= ACR_RANK.get(sso.acr, 0):
        return reported_acr(requested, essential, sso.acr)
    if not fresh:
        enrol = must and (ctx.user_rank or 0) < ACR_RANK.get(goal, 0)
        return NeedLogin(force=True, acr=goal, step_up=True, enrol=enrol)
    if must:
        raise UnmetAuthenticationRequirementsError("The requested acr cannot be satisfied.")
    return sso.acr
