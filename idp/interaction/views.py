"""Sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp import audit
from idp.extensions import db
from idp.interaction.forms import LoginForm, LogoutForm
from idp.interaction.service import ACR_PASSWORD, AMR_PASSWORD, sign_in
from idp.sessions import clear_session_cookie, current_session, set_session_cookie
from idp.sessions.store import end_session, start_session

bp = Blueprint("interaction", __name__)


def safe_next(target: str | None) -> str:
    """Only local paths are followed after sign-in: never an open redirect."""
    if not target:
        return url_for("account.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("account.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if request.args.get("login_hint"):
            form.email.data = request.args["login_hint"][:320]
    status = 200
    error = None
    if form.validate_on_submit():
        origin = audit.request_origin()
        result = sign_in(form.email.data, form.password.data, **origin)
        if result.user is not None:
            handle, _sso = start_session(
                result.user, amr=[AMR_PASSWORD], acr=ACR_PASSWORD,
                remember=bool(form.remember.data), **origin,
            )
            db.session.commit()
            response = redirect(safe_next(form.next.data))
            set_session_cookie(response, handle, bool(form.remember.data))
            return response
        if result.retry_after:
            error = _("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau %(n)d giây.", n=result.retry_after)
            status = 429
        else:
            error = _("Địa chỉ thư điện tử hoặc mật khẩu không đúng.")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("interaction/login.html", form=form, error=error), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    sso = current_session()
    if request.method == "POST" and form.validate_on_submit():
        if sso is not None:
            end_session(sso, "user")
            audit.record("logout", actor=sso.user.sub, subject=sso.user.sub, **audit.request_origin())
            db.session.commit()
        g.sso = None
        response = redirect(url_for("interaction.logged_out"))
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
    from flask import current_app

    from idp.i18n import LANG_COOKIE

    target = safe_next(request.args.get("next"))
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, code, max_age=31536000, samesite="Lax", httponly=True)
    return response
