"""The end_session endpoint: OpenID Connect RP-Initiated Logout 1.0, GET and POST.

1. idp.oidc.end_session checks the request; an error is a page, never a redirect, and
   nothing is ended.
2. When the request cannot be tied to this browser's session (no id_token_hint, a hint
   for another person or another session, a logout_hint naming someone else), the person
   confirms first on a page whose form (CSRF-protected) posts the request back here.
3. idp.sessions.logout ends the session: back-channel notices are queued (and sent after
   the commit, never waited for), grants without offline_access are revoked.
4. The answer: the relying parties' front-channel logout frames when there are any, then
   the post_logout_redirect_uri with `state`, or the signed-out page.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Flask, Response, g, render_template, request
from flask_babel import gettext as _

from idp import audit
from idp.extensions import csrf, db
from idp.oidc.end_session import (
    PARAMETERS,
    EndSessionEndpoint,
    InvalidIdTokenHintError,
    InvalidPostLogoutRedirectUriError,
    LogoutRequest,
    UnknownClientError,
)
from idp.oidc.server import EXTENSION_KEY, get_server
from idp.pages import PageForm
from idp.profile import END_SESSION_PATH
from idp.security import allow_form_redirects
from idp.sessions import clear_session_cookie, current_session
from idp.sessions.logout import REASON_RP_LOGOUT, sign_out_browser
from idp.sessions.models import SsoSession
from idp.sessions.pages import signed_out_response

bp = Blueprint("logout", __name__)
CONFIRM_FIELD = "logout_confirm"


class ConfirmForm(PageForm):
    """Only the CSRF token: the request rides along in hidden fields."""


@bp.route(END_SESSION_PATH, methods=["GET", "POST"])
@csrf.exempt  # relying parties POST here without our token; the confirmation checks its own
def end_session() -> Response:
    try:
        logout = get_server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_page(error)
    sso = current_session()
    confirming = request.method == "POST" and CONFIRM_FIELD in request.form
    form = ConfirmForm()
    if confirming and not form.validate():
        return confirm_page(logout, sso, form, status=400)
    if sso is not None and not confirming and needs_confirmation(logout, sso):
        return confirm_page(logout, sso, form)
    result = None
    if sso is not None:
        result = sign_out_browser(
            sso,
            reason=REASON_RP_LOGOUT,
            actor=logout.client.client_id if logout.client else None,
            origin=audit.request_origin(),
        )
        db.session.commit()
        g.sso = None
    response = signed_out_response(result, logout.redirect_uri)
    clear_session_cookie(response)
    return response


def needs_confirmation(logout: LogoutRequest, sso: SsoSession) -> bool:
    """True unless the id_token_hint ties the request to this browser's session."""
    claims = logout.id_token_claims
    if claims is None or claims.get("sub") != sso.user.sub:
        return True
    if isinstance(claims.get("sid"), str) and claims["sid"] != sso.sid:
        return True
    return bool(logout.logout_hint) and not hint_names(logout.logout_hint, sso)


def hint_names(logout_hint: str, sso: SsoSession) -> bool:
    """Whether a logout_hint (an e-mail address, any alias, or the sub) is this person."""
    user = sso.user
    hint = logout_hint.strip().lower()
    return hint == user.sub.lower() or hint in {a.lower() for a in [user.email, *user.aliases]}


def confirm_page(
    logout: LogoutRequest, sso: SsoSession | None, form: ConfirmForm, status: int = 200
) -> Response:
    claims = logout.id_token_claims
    other_person = sso is not None and (
        (claims is not None and claims.get("sub") != sso.user.sub)
        or (bool(logout.logout_hint) and not hint_names(logout.logout_hint or "", sso))
    )
    data = logout.request.payload.data
    fields = [(name, data[name]) for name in PARAMETERS if data.get(name)]
    page = render_template(
        "oidc/logout_confirm.html",
        form=form,
        user=sso.user if sso else None,
        client=logout.client,
        other_person=other_person,
        fields=fields,
        confirm_field=CONFIRM_FIELD,
        error=bool(form.errors),
    )
    # Confirming ends, through a redirect, at the relying party (see idp.security).
    return allow_form_redirects(Response(page, status=status, mimetype="text/html"))


def error_page(error: OAuth2Error) -> Response:
    if isinstance(error, InvalidIdTokenHintError):
        title = _("Yêu cầu đăng xuất không hợp lệ")
        message = _(
            "Ứng dụng đã gửi kèm một mã định danh (ID token) không do hệ thống này cấp, "
            "nên yêu cầu đăng xuất đã bị dừng. Bạn chưa được đăng xuất."
        )
    elif isinstance(error, UnknownClientError):
        title = _("Ứng dụng không được nhận diện")
        message = _(
            "Ứng dụng đã chuyển bạn đến đây chưa được đăng ký hoặc đã bị vô hiệu hóa. "
            "Bạn chưa được đăng xuất."
        )
    elif isinstance(error, InvalidPostLogoutRedirectUriError):
        title = _("Địa chỉ quay lại không hợp lệ")
        message = _(
            "Ứng dụng yêu cầu quay lại một địa chỉ chưa được đăng ký sau khi đăng xuất, nên "
            "yêu cầu đã bị dừng để bảo vệ bạn. Bạn chưa được đăng xuất."
        )
    else:
        title = _("Yêu cầu đăng xuất không hợp lệ")
        message = _("Ứng dụng đã gửi một yêu cầu đăng xuất không hợp lệ. Bạn chưa được đăng xuất.")
    page = render_template(
        "oidc/logout_error.html",
        title=title,
        message=message,
        code=error.error,
        signed_in=current_session() is not None,
    )
    return Response(page, status=400, mimetype="text/html")


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY].register_endpoint(EndSessionEndpoint)
    app.register_blueprint(bp)
