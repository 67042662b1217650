"""What an authorization request needs from the person before a code can be issued.

A pipeline of small checks (prompt, id_token_hint, max_age, acr, consent), run after
Authlib has validated the request itself. `decide()` returns NeedLogin, NeedConsent or
Proceed, or raises the OAuth error that goes back to the client (prompt=none, an essential
acr that cannot be met, a bad id_token_hint).

Re-authentication (prompt=login, max_age, step-up) sends the person to the sign-in page
with a signed login ticket in the return URL: once back, a session whose auth_time is not
older than the ticket counts as fresh, so the request does not loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from idp.oidc.profile import ACR_RANK
from idp.oidc.tokens import token_audiences, verify_id_token_hint
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
    login_ticket: str | None = None
    consented_scopes: set[str] = field(default_factory=set)
    consent_given: bool = False


@dataclass
class NeedLogin:
    # Ask for credentials even though a session exists (prompt=login, max_age, step-up).
    force: bool
    acr: str | None = None


@dataclass
class NeedConsent:
    pass


@dataclass
class Proceed:
    acr: str


Decision = NeedLogin | NeedConsent | Proceed


# ---------------------------------------------------------------- login tickets


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="oidc-login-ticket")


def issue_login_ticket(client_id: str) -> str:
    return _serializer().dumps(client_id)


def login_ticket_time(ticket: str | None, client_id: str) -> datetime | None:
    """When the request sent the person to sign in, if the ticket is ours and this client's."""
    if not ticket:
        return None
    try:
        value, signed_at = _serializer().loads(
            ticket, max_age=LOGIN_TICKET_MAX_AGE_SECONDS, return_timestamp=True
        )
    except BadData:
        return None
    if value != client_id:
        return None
    return signed_at if signed_at.tzinfo else signed_at.replace(tzinfo=UTC)


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


def check_acr(
    requested: list[str], essential: bool, session_acr: str, supported: list[str], fresh: bool
) -> tuple[str, str | None]:
    """("ok", acr claim) or ("login", acr to reach). Raises when essential and impossible.

    A level satisfies every request for a level at or below it. When nothing requested can
    be reached now, a voluntary request gets the level the session has (OIDC Core 5.5.1.1);
    an essential one fails.
    """
    if not requested:
        return "ok", session_acr
    rank = ACR_RANK.get(session_acr, 0)
    satisfied = [v for v in requested if 0 < ACR_RANK.get(v, 0) <= rank]
    if satisfied:
        if session_acr in requested or not essential:
            return "ok", session_acr
        return "ok", max(satisfied, key=lambda v: ACR_RANK[v])
    reachable = [v for v in requested if v in supported and ACR_RANK.get(v, 0) > rank]
    if reachable and not fresh:
        return "login", reachable[0]
    if essential:
        raise UnmetAuthenticationRequirementsError("The requested acr cannot be satisfied.")
    return "ok", session_acr


def max_age_exceeded(max_age: int | None, auth_time: datetime, now: datetime) -> bool:
    return max_age is not None and (now - auth_time).total_seconds() > max_age


def consent_needed(ctx: AuthorizationContext) -> bool:
    if ctx.consent_given:
        return False
    if "consent" in ctx.prompts:
        return True
    return not ctx.first_party and not set(ctx.scopes) <= ctx.consented_scopes


# ---------------------------------------------------------------- the pipeline


def decide(ctx: AuthorizationContext, sso: SsoSession | None, now: datetime) -> Decision:
    prompt_none = "none" in ctx.prompts
    hint_sub = check_id_token_hint(ctx.id_token_hint, ctx.client_id)
    requested_acr, essential = acr_request(ctx.acr_values, ctx.claims)
    supported = list(current_app.config["ACR_VALUES_SUPPORTED"])

    def login(force: bool, acr: str | None = None) -> NeedLogin:
        if prompt_none:
            raise LoginRequiredError()
        return NeedLogin(force=force, acr=acr)

    if sso is None:
        reachable = [v for v in requested_acr if v in supported]
        return login(False, reachable[0] if reachable else None)
    if hint_sub is not None and hint_sub != sso.user.sub:
        return login(True)
    ticket_time = login_ticket_time(ctx.login_ticket, ctx.client_id)
    fresh = ticket_time is not None and sso.auth_time >= ticket_time
    if not fresh and ({"login", "select_account"} & ctx.prompts):
        # select_account is treated as login, as Keycloak does: one account per browser.
        return login(True)
    if not fresh and max_age_exceeded(ctx.max_age, sso.auth_time, now):
        return login(True)
    outcome, acr = check_acr(requested_acr, essential, sso.acr, supported, fresh)
    if outcome == "login":
        return login(True, acr)
    if consent_needed(ctx):
        if prompt_none:
            raise ConsentRequiredError()
        return NeedConsent()
    return Proceed(acr=acr or sso.acr)
