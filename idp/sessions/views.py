"""The account page's "Phiên đăng nhập" actions and the signed-out page with its frames.

`signed_out_response` is what every sign-out in a browser answers with: the relying
parties' front-channel logout pages in hidden iframes (Front-Channel Logout 1.0 section
3), then on to the post-logout redirect; without frames, a plain redirect there (or to
the signed-out page). The Content-Security-Policy of that one response lets it frame
exactly those relying parties' origins.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from idp import audit
from idp.extensions import db
from idp.interaction.forms import LogoutForm
from idp.security import allow_framing
from idp.sessions import clear_session_cookie, current_session
from idp.sessions.logout import REASON_ACCOUNT, LogoutResult, end_user_sessions

bp = Blueprint("sessions", __name__, url_prefix="/account/sessions")

SID_MAX_LENGTH = 64
# Seconds the signed-out page waits for the frames before it continues anyway
# (idp/static/frontchannel-logout.js reads it from the page).
FRAMES_TIMEOUT_SECONDS = 4


def signed_out_response(result: LogoutResult | None, continue_url: str | None) -> Response:
    """The answer to a sign-out in this browser; the caller clears the SSO cookie."""
    frames = result.frames if result else []
    if not frames:
        return redirect(continue_url or url_for("interaction.logged_out"))
    page = render_template(
        "sessions/signed_out.html",
        frames=frames,
        apps=result.client_names if result else [],
        continue_url=continue_url,
        timeout_ms=FRAMES_TIMEOUT_SECONDS * 1000,
    )
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return allow_framing(response, [frame.origin for frame in frames])


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
