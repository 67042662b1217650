"""The account page's "Phiên đăng nhập" actions (end one session, end them all)."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, request, url_for

from idp import audit
from idp.extensions import db
from idp.pages import LogoutForm
from idp.sessions import clear_session_cookie, current_session
from idp.sessions.logout import REASON_ACCOUNT, end_user_sessions
from idp.sessions.pages import signed_out_response

bp = Blueprint("sessions", __name__, url_prefix="/account/sessions")

SID_MAX_LENGTH = 64


def _back_to_account() -> Response:
    return redirect(url_for("account.index") + "#sessions")


def _end(sid: str | None) -> Response:
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=url_for("account.index")))
    form = LogoutForm()
    if not form.validate():
        return _back_to_account()
    result = end_user_sessions(
        sso.user,
        reason=REASON_ACCOUNT,
        actor=sso.user.sub,
        sid=sid,
        browser_sid=sso.sid,
        origin=audit.request_origin(),
    )
    db.session.commit()
    if sso.sid not in result.sids:
        return _back_to_account()
    # This browser's own session ended too: it is signed out, like the sign-out page.
    g.sso = None
    response = signed_out_response(result, None)
    clear_session_cookie(response)
    return response


@bp.post("/end")
def end_one() -> Response:
    sid = request.form.get("sid", "")
    if not sid or len(sid) > SID_MAX_LENGTH:
        return _back_to_account()
    return _end(sid)


@bp.post("/end-all")
def end_all() -> Response:
    return _end(None)
