"""Protocol routes: each hands the request to the authorization server or a module of oidc/."""

from __future__ import annotations

import logging

from authlib.oauth2.rfc6749 import InsecureTransportError
from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from idp import audit
from idp.errors import render_error
from idp.extensions import commit, csrf, utcnow
from idp.oidc import authorize as authorization
from idp.oidc import consent, discovery
from idp.oidc.server import get_server
from idp.profile import (
    AUTHORIZATION_PATH,
    INTROSPECTION_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from idp.sessions import current_session

log = logging.getLogger("idp.oidc")

bp = Blueprint("oidc", __name__)
# Pages for people: their errors are pages, even under /oauth2/.
PAGE_ENDPOINTS = {"oidc.authorize", "oidc.withdraw_consent"}


@bp.route(AUTHORIZATION_PATH, methods=["GET", "POST"])
@csrf.exempt  # relying parties may POST the request; the consent form checks its own token
def authorize() -> Response:
    return authorization.handle(get_server())


@bp.post(TOKEN_PATH)
@csrf.exempt
def token() -> Response:
    response = get_server().create_token_response()
    commit()
    return response


@bp.route(USERINFO_PATH, methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> Response:
    return get_server().create_endpoint_response("userinfo")


@bp.post(INTROSPECTION_PATH)
@csrf.exempt
def introspect() -> Response:
    return get_server().create_endpoint_response("introspection")


@bp.post(REVOCATION_PATH)
@csrf.exempt
def revoke() -> Response:
    response = get_server().create_endpoint_response("revocation")
    commit()
    return response


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return discovery.metadata_response()


@bp.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata() -> Response:
    return discovery.metadata_response()


@bp.post("/account/apps/withdraw")
def withdraw_consent() -> Response:
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=url_for("account.index")))
    form = consent.ConsentForm()
    client_id = request.form.get("client_id", "")
    if form.validate() and client_id:
        consent.withdraw_consent(sso.user, client_id, utcnow(), audit.request_origin())
        commit()
    return redirect(url_for("account.index") + "#apps")


@bp.app_errorhandler(InsecureTransportError)
def _insecure_transport(error: InsecureTransportError):
    """Authlib refuses a protocol request whose URL is not https (loopback http aside): the
    client reached us in clear, or the proxy that ended TLS is not trusted (TRUSTED_PROXIES,
    idp.security.trust_proxies). The authorization endpoint shows it on its error page."""
    return get_server().handle_error_response(None, error)


@bp.errorhandler(HTTPException)
def _errors(exc: HTTPException):
    """Errors on the pages of this blueprint are pages, even under /oauth2/ (see idp.errors)."""
    if exc.code is None or exc.code < 400:
        return exc
    if request.endpoint in PAGE_ENDPOINTS:
        page = render_template(
            "oidc/error.html",
            title=_("Yêu cầu không hợp lệ"),
            message=_("Yêu cầu gửi đến không đúng định dạng hoặc quá lớn."),
            code=str(exc.code),
        )
        return Response(page, status=exc.code, mimetype="text/html")
    return render_error(exc.code)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _granted_apps() -> dict:
        # The account page lists the applications a person consented to or signed in to
        # (oidc/_apps.html).
        return {"granted_apps": consent.granted_apps, "signed_in_apps": consent.signed_in_apps}
