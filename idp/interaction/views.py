"""Sign-in and sign-out pages.

The contract with the protocol side: anything that needs a signed-in person redirects to
`/login?next=<local URL>`; after a successful sign-in the browser carries the SSO cookie and
is sent back to that URL, where `idp.sessions.current_session()` finds the session.
`force=1` (prompt=login, max_age, step-up) means: ask for credentials even though a session
exists. Signing in again as the session's person re-authenticates that session (same `sid`,
new `auth_time`); as someone else, it replaces the session.
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from idp import audit
from idp.extensions import commit, utcnow
from idp.i18n import LANG_COOKIE, local_clock
from idp.interaction.device import read_device_cookie, set_device_cookie
from idp.interaction.forms import LoginForm
from idp.interaction.service import (
    ACR_PASSWORD,
    AMR_PASSWORD,
    SignInResult,
    begin_sign_in,
    finish_sign_in,
)
from idp.pages import LogoutForm, has_control_characters, is_local_path, safe_next
from idp.security import allow_form_redirects, set_cookie
from idp.sessions import clear_session_cookie, current_session, set_session_cookie
from idp.sessions.logout import (
    REASON_LOGOUT,
    REASON_REPLACED,
    end_sessions,
    sign_out_browser,
)
from idp.sessions.pages import signed_out_response
from idp.sessions.store import reauthenticate, start_session

bp = Blueprint("interaction", __name__)

LANG_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = (
            request.args.get("next", "") if is_local_path(request.args.get("next")) else ""
        )
        hint = request.args.get("login_hint", "")
        if hint and not has_control_characters(hint):
            form.email.data = hint[:320]
    status, error, retry_after = 200, None, 0
    if form.validate_on_submit():
        origin = audit.request_origin()
        device = read_device_cookie()
        attempt = begin_sign_in(form.email.data, device_cookie=device, **origin)
        commit()  # counted before the password is checked, seen by attempts made meanwhile
        result = (
            SignInResult(None, retry_after=attempt.retry_after)
            if attempt.retry_after
            else finish_sign_in(attempt, form.password.data)
        )
        if result.user is None:
            commit()
        else:
            response = redirect(safe_next(form.next.data))
            set_device_cookie(response, result.device_cookie)
            existing = current_session()
            if existing is not None and existing.user_id == result.user.id:
                handle = reauthenticate(existing, amr=[AMR_PASSWORD], acr=ACR_PASSWORD)
                commit()
                set_session_cookie(response, handle, existing.remember)
                return response
            if existing is not None:
                end_sessions([existing.id], reason=REASON_REPLACED)
            remember = bool(form.remember.data)
            handle, _sso = start_session(
                result.user, amr=[AMR_PASSWORD], acr=ACR_PASSWORD, remember=remember, **origin
            )
            commit()
            set_session_cookie(response, handle, remember)
            return response
        if result.retry_after:
            retry_after = result.retry_after
            error = throttled_message(retry_after)
            status = 429
        else:
            error = _("Địa chỉ thư điện tử hoặc mật khẩu không đúng.")
            status = 401
    elif request.method == "POST":
        status = 400
    response = current_app.make_response(
        (render_template("interaction/login.html", form=form, error=error), status)
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    # The form's submission ends at the relying party when `next` is an authorization request.
    return allow_form_redirects(response)


def throttled_message(retry_after: int) -> str:
    """The 429 message: try again in 40 seconds (at 09:15), in the page's language and the
    province's time."""
    if retry_after < 60:
        wait = ngettext("%(num)d giây", "%(num)d giây", retry_after)
    else:
        wait = ngettext("%(num)d phút", "%(num)d phút", -(-retry_after // 60))
    at = local_clock(utcnow() + timedelta(seconds=retry_after))
    return _(
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau %(wait)s (lúc %(time)s).",
        wait=wait,
        time=at,
    )


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    sso = current_session()
    if request.method == "POST" and form.validate_on_submit():
        result = None
        if sso is not None:
            # Single sign-out: every relying party of the session is told (idp.sessions).
            result = sign_out_browser(sso, reason=REASON_LOGOUT, origin=audit.request_origin())
            commit()
        g.sso = None
        response = signed_out_response(result, None)
        clear_session_cookie(response)
        return response
    if sso is None:
        return redirect(url_for("interaction.logged_out"))
    return render_template("interaction/logout.html", form=form, user=sso.user)


@bp.get("/logged-out")
def logged_out():
    return render_template("interaction/logged_out.html")


@bp.get("/lang/<code>")
def switch_language(code: str):
    """The language switch: remembers the choice in a cookie and goes back where it was."""
    response = redirect(safe_next(request.args.get("next")))
    if code in current_app.config["LANGUAGES"]:
        set_cookie(response, LANG_COOKIE, code, max_age=LANG_COOKIE_MAX_AGE_SECONDS)
    return response


# Browsers ask for /favicon.ico on their own; pages link the SVG (base.html). A week's cache.
FAVICON_MAX_AGE_SECONDS = 7 * 24 * 3600


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(
        current_app.static_folder,
        "favicon.ico",
        mimetype="image/vnd.microsoft.icon",
        max_age=FAVICON_MAX_AGE_SECONDS,
    )
