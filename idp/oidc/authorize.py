"""The authorization endpoint (RFC 6749 4.1.1, OIDC Core 3.1.2): from request to response.

1. Authlib validates the request (client, exact redirect URI, response type, scope, PKCE,
   nonce, our parameter checks). An unknown or disabled client or a redirect URI that is
   not registered gets an error page; every later error goes back to the client.
2. idp.oidc.checks decides whether the person must sign in (again), consent, or neither.
3. A code is issued (with `iss`, RFC 9207) by redirect or by form_post.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidClientError, InvalidRequestError
from flask import Response, current_app, render_template, session, url_for
from flask import request as flask_request
from flask_babel import gettext as _

from idp import audit
from idp.extensions import commit, rollback, utcnow
from idp.factors import methods as factor_methods
from idp.factors import policy
from idp.oidc import checks, consent, store
from idp.oidc import claims as claim_values
from idp.oidc.grants import RedirectUriError
from idp.oidc.server import ProviderServer
from idp.oidc.tokens import Principal
from idp.pages import is_local_path
from idp.profile import ACR_RANK, AUTHORIZATION_PATH
from idp.security import allow_form_redirects, allow_form_target, read_cookie
from idp.sessions import SSO_COOKIE

log = logging.getLogger("idp.oidc")

# Expired codes and tokens are also removed on the way, about once per this many codes.
CLEANUP_EVERY_CODES = 500
# Parameters of our own pages that are not part of the authorization request.
PAGE_PARAMETERS = {"csrf_token", consent.CONSENT_ACTION, checks.LOGIN_TICKET_PARAM}
# The page-session key holding the nonces of this browser's unspent login tickets, and how
# many are kept (one per sign-in under way, e.g. in several tabs).
PENDING_TICKETS = "login_tickets"
PENDING_TICKETS_MAX = 5


def handle(server: ProviderServer) -> Response:
    # The SSO session and its person in one read (idp.oidc.store.find_live_session).
    sso = store.find_live_session(read_cookie(SSO_COOKIE), utcnow())
    try:
        grant = server.get_consent_grant(end_user=sso.user if sso else None)
    except OAuth2Error as error:
        return error_response(server, error)
    form = flask_request.form if flask_request.method == "POST" else {}
    action = form.get(consent.CONSENT_ACTION)
    # Made only when a consent form is posted or shown: making one issues a CSRF token and
    # so writes the page session cookie, which an SSO hop has no use for.
    consent_form = consent.ConsentForm() if action is not None and sso is not None else None
    if consent_form is not None:
        refused = _refused_consent(server, grant, sso, consent_form, action)
        if refused is not None:
            return refused
    ctx = authorization_context(grant, sso, action)
    now = utcnow()
    try:
        decision = checks.decide(ctx, sso, now)
    except OAuth2Error as error:
        return error_response(server, _for(grant, error))
    if isinstance(decision, checks.NeedLogin):
        return login_redirect(server, grant, decision)
    if isinstance(decision, checks.NeedConsent):
        return consent_page(grant, sso, consent_form or consent.ConsentForm())
    assert sso is not None
    return issue_code(server, grant, sso, ctx, decision, now)


def _refused_consent(
    server: ProviderServer, grant, sso, consent_form: consent.ConsentForm, action: str
) -> Response | None:
    """The answer to a posted consent form that is invalid or says no; None to go on."""
    if not consent_form.validate():
        return consent_page(grant, sso, consent_form, status=400)
    if action != consent.ALLOW:
        return error_response(server, _for(grant, AccessDeniedError()))
    return None


def authorization_context(grant, sso, action: str | None) -> checks.AuthorizationContext:
    """What idp.oidc.checks needs to know of the request, the person and their consent."""
    request = grant.request
    data = request.payload.data
    client = request.client
    scopes = (request.scope or "").split()
    # request.scope is already limited to the client's registered scopes (Authlib), and
    # the claims request to the claims those cover (request_checks).
    named_claims = claim_values.individual_claims(scopes, request.claims_request)
    ctx = checks.AuthorizationContext(
        client_id=client.client_id,
        first_party=client.skips_consent,
        scopes=scopes,
        prompts=set((data.get("prompt") or "").split()),
        max_age=requested_max_age(data.get("max_age"), client),
        id_token_hint=data.get("id_token_hint"),
        acr_values=(data.get("acr_values") or "").split()
        or list(client.meta("default_acr_values") or []),
        claims=request.claims_request,
        login_ticket=_login_ticket(data.get(checks.LOGIN_TICKET_PARAM)),
        individual_claims=named_claims,
        consent_given=action == consent.ALLOW and sso is not None,
        required_acr=required_acr(client.client_id, sso),
    )
    if sso is not None and (
        ctx.acr_values or ctx.claims or ctx.required_acr or ctx.max_age is not None
    ):
        # One read more, only when a level is asked for: plain SSO hops stay as cheap.
        ctx.user_rank = factor_methods.reachable_rank(sso.user)
    if sso is not None and not client.skips_consent:
        ctx.consented_scopes, ctx.consented_claims = consent.consented(
            sso.user.id, client.client_id
        )
    return ctx


def required_acr(client_id: str, sso) -> str | None:
    """The strongest level the client or the signed-in person's role always requires."""
    config = current_app.config
    levels = [policy.required_acr_for_client(client_id, config)]
    if sso is not None:
        levels.append(policy.required_acr_for_user(sso.user, config))
    known = [v for v in levels if v]
    return max(known, key=lambda v: ACR_RANK.get(v, 0)) if known else None


def issue_code(
    server: ProviderServer,
    grant,
    sso,
    ctx: checks.AuthorizationContext,
    decision: checks.Proceed,
    now: datetime,
) -> Response:
    """Spend the login ticket, record a consent just given, issue the code, commit."""
    request = grant.request
    client = request.client
    if ctx.login_ticket is not None:
        _spend(ctx.login_ticket)
    if ctx.consent_given:
        consent.give_consent(
            sso.user,
            client.client_id,
            ctx.scopes,
            ctx.individual_claims,
            now,
            audit.request_origin(),
        )
    principal = Principal(
        user=sso.user,
        auth_time=sso.auth_time,
        acr=decision.acr,
        amr=list(sso.amr or []),
        sid=sso.sid,
        sso_session_id=sso.id,
        claims=request.claims_request,
    )
    status, body, headers = grant.create_authorization_response(grant.redirect_uri, principal)
    response = server.handle_response(status, body, headers)
    server.execute_hook("after_create_authorization_response", response)
    store.touch_session(sso, now)
    commit()
    _maybe_cleanup()
    return deliver(response, grant.redirect_uri, request.payload.data.get("response_mode"))


def requested_max_age(value: str | None, client) -> int | None:
    """max_age of the request, else the client's registered default_max_age (OIDC
    Registration 2); the syntax was checked by AuthorizationRequestChecks."""
    if value:
        return int(value)
    default = client.meta("default_max_age")
    return default if isinstance(default, int) and default >= 0 else None


def _for(grant, error: OAuth2Error) -> OAuth2Error:
    """Address an error to the client of a validated request."""
    error.redirect_uri = grant.redirect_uri
    error.state = grant.request.payload.state
    return error


def error_response(server: ProviderServer, error: OAuth2Error) -> Response:
    """Back to the client when its redirect URI is known and valid, else an error page."""
    if not error.redirect_uri:
        return error_page(error)
    request = server.create_oauth2_request(None)
    response = server.handle_error_response(request, error)
    server.execute_hook("after_create_authorization_response", response)
    return deliver(response, error.redirect_uri, request.payload.data.get("response_mode"))


def error_page(error: OAuth2Error) -> Response:
    if isinstance(error, InvalidClientError):
        title = _("Ứng dụng không được phép đăng nhập")
        message = _(
            "Ứng dụng đã chuyển bạn đến đây chưa được đăng ký hoặc đã bị vô hiệu hóa. "
            "Vui lòng quay lại ứng dụng."
        )
    elif isinstance(error, RedirectUriError):
        title = _("Địa chỉ quay lại không hợp lệ")
        message = _(
            "Ứng dụng yêu cầu quay lại một địa chỉ chưa được đăng ký, nên yêu cầu đăng nhập "
            "đã bị dừng để bảo vệ bạn. Vui lòng báo cho bộ phận hỗ trợ của ứng dụng."
        )
    else:
        title = _("Yêu cầu đăng nhập không hợp lệ")
        message = _(
            "Ứng dụng đã gửi một yêu cầu đăng nhập không hợp lệ. Vui lòng quay lại ứng dụng "
            "và thử lại."
        )
    page = render_template("oidc/error.html", title=title, message=message, code=error.error)
    return Response(page, status=400, mimetype="text/html")


def _request_items() -> list[tuple[str, str]]:
    return [
        (key, value)
        for key, value in flask_request.values.items(multi=True)
        if key not in PAGE_PARAMETERS
    ]


def _login_ticket(ticket: str | None) -> checks.LoginTicket | None:
    """The request's login ticket, if made for this request in this browser and unspent.
    The page session is read only when there is a ticket: an SSO hop does not touch it."""
    if not ticket:
        return None
    pending = session.get(PENDING_TICKETS)
    if not isinstance(pending, list):
        return None
    return checks.read_login_ticket(ticket, checks.request_digest(_request_items()), pending)


def _spend(ticket: checks.LoginTicket) -> None:
    session[PENDING_TICKETS] = [n for n in session.get(PENDING_TICKETS, []) if n != ticket.nonce]


def login_redirect(server: ProviderServer, grant, decision: checks.NeedLogin) -> Response:
    """To the sign-in page, which brings the person back here (idp.interaction.views) with
    a login ticket for this request, whose nonce this browser keeps in its page session."""
    items = _request_items()
    ticket, nonce = checks.issue_login_ticket(checks.request_digest(items))
    target = f"{AUTHORIZATION_PATH}?{urlencode([*items, (checks.LOGIN_TICKET_PARAM, ticket)])}"
    if not is_local_path(target):
        error = InvalidRequestError("The authorization request is too long for sign-in.")
        return error_response(server, _for(grant, error))
    pending = session.get(PENDING_TICKETS)
    kept = [n for n in pending if isinstance(n, str)] if isinstance(pending, list) else []
    session[PENDING_TICKETS] = [*kept[-(PENDING_TICKETS_MAX - 1) :], nonce]
    params = {"next": target}
    hint = grant.request.payload.data.get("login_hint")
    if hint:
        params["login_hint"] = hint
    if decision.force:
        params["force"] = "1"
    if decision.acr:
        params["acr"] = decision.acr
    if decision.step_up:
        params["step_up"] = "1"
    if decision.enrol:
        params["enrol"] = "1"
    response = Response(status=302)
    response.headers["Location"] = url_for("interaction.login", **params)
    return response


def consent_page(grant, sso, form: consent.ConsentForm, status: int = 200) -> Response:
    request = grant.request
    scopes = (request.scope or "").split()
    named_claims = claim_values.individual_claims(scopes, request.claims_request)
    links = consent.client_links(request.client)
    page = render_template(
        "oidc/consent.html",
        form=form,
        client=request.client,
        client_name=consent.display_name(request.client),
        links=links,
        # A self-registered client is marked as not verified by the province, with the
        # host the person will be sent to, which a look-alike name cannot change.
        unverified=request.client.self_registered,
        destination=consent.destination(grant.redirect_uri),
        user=sso.user,
        scopes=consent.describe(scopes, named_claims),
        # With the login ticket, so that the decision still counts the sign-in just made.
        fields=[*_request_items(), *_ticket_field()],
        action_name=consent.CONSENT_ACTION,
        allow=consent.ALLOW,
        deny=consent.DENY,
        error=bool(form.errors),
    )
    # Allowing the form ends, through redirects, at the relying party; its logo may be shown.
    logo = [consent.origin_of(links["logo_uri"])] if "logo_uri" in links else []
    return allow_form_redirects(Response(page, status=status, mimetype="text/html"), logo)


def _ticket_field() -> list[tuple[str, str]]:
    ticket = flask_request.values.get(checks.LOGIN_TICKET_PARAM)
    return [(checks.LOGIN_TICKET_PARAM, ticket)] if ticket else []


def deliver(response: Response, redirect_uri: str, response_mode: str | None) -> Response:
    """RFC 6749 query redirect, or OAuth 2.0 Form Post Response Mode for form_post."""
    if response_mode != "form_post" or urlsplit(redirect_uri).scheme not in ("http", "https"):
        return response
    location = response.headers.get("Location")
    if response.status_code != 302 or not location:
        return response
    own = parse_qsl(urlsplit(redirect_uri).query, keep_blank_values=True)
    params = parse_qsl(urlsplit(location).query, keep_blank_values=True)[len(own) :]
    page = render_template("oidc/form_post.html", action=redirect_uri, params=params)
    posted = Response(page, status=200, mimetype="text/html")
    posted.headers["Cache-Control"] = "no-store"
    # The page posts itself to the relying party (idp/static/form-post.js), and only there.
    return allow_form_target(posted, redirect_uri)


def _maybe_cleanup() -> None:
    if random.randrange(CLEANUP_EVERY_CODES):  # noqa: S311 (not a secret)
        return
    try:
        store.remove_expired()
        commit()
    except Exception:  # cleanup must never fail the sign-in it rides on
        log.warning("opportunistic cleanup failed", exc_info=True)
        rollback()
