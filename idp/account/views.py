"""The user's own pages."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp import audit
from idp.account.service import recent_sign_ins
from idp.extensions import commit, utcnow
from idp.factors import service as factors
from idp.factors.forms import FactorForm
from idp.pages import PageForm
from idp.sessions import current_session
from idp.sessions.models import SsoSession

bp = Blueprint("account", __name__, url_prefix="/account")

SECURITY_ANCHOR = "security"


@bp.get("/")
def index():
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=request.full_path.rstrip("?")))
    return render_template(
        "account/index.html",
        user=sso.user,
        sso=sso,
        sign_ins=recent_sign_ins(sso.user.sub),
        factors=factors.summary(sso.user),
    )


def _signed_in():
    sso = current_session()
    if sso is None:
        return None, redirect(url_for("interaction.login", next=url_for("account.index")))
    return sso, None


def _account_page() -> Response:
    return redirect(url_for("account.index", _anchor=SECURITY_ANCHOR))


@bp.route("/security/totp", methods=["GET", "POST"])
def totp():
    """Enrol an authenticator app: the QR code and the secret, confirmed by a first code;
    the recovery codes are shown once, on success."""
    sso, away = _signed_in()
    if sso is None:
        return away
    user, now = sso.user, utcnow()
    if factors.has_totp(user):
        return _account_page()
    form = FactorForm()
    error, status = None, 200
    if request.method == "POST" and form.validate_on_submit():
        try:
            origin = audit.request_origin()
            codes = factors.confirm_totp_enrolment(
                user, form.code.data, now, origin, factors.shown_mark()
            )
        except factors.FactorError:
            error, status = _("Mã xác thực không đúng hoặc đã được dùng."), 401
        else:
            commit()
            return _codes_page(codes)
    elif request.method == "POST":
        status = 400
    enrolment = factors.show_enrolment(user, now)
    commit()
    page = render_template(
        "account/totp_enrol.html", form=form, enrolment=enrolment, error=error, user=user
    )
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _codes_page(codes: list[str]) -> Response:
    page = render_template(
        "factors/recovery_codes.html",
        codes=codes,
        continue_to=url_for("account.index", _anchor=SECURITY_ANCHOR),
    )
    response = current_app.make_response((page, 200))
    response.headers["Cache-Control"] = "no-store"
    return response


def _needs_fresh_factor(sso) -> Response | None:
    """Removing a factor or issuing new recovery codes needs a second factor given in this
    session within FACTOR_FRESH_SECONDS: otherwise, to the factor page first (step-up)."""
    seconds = current_app.config["FACTOR_FRESH_SECONDS"]
    if factors.is_fresh(sso.auth_times, utcnow(), seconds):
        return None
    query = urlencode({"step_up": "1", "next": url_for("account.index", _anchor=SECURITY_ANCHOR)})
    return redirect(url_for("interaction.login") + "?" + query)


def _totp_action() -> tuple[SsoSession | None, Response | None]:
    """The checks before changing the person's authenticator: signed in, the form's CSRF
    token, an authenticator to change, a second factor given recently. (session, None) to
    go on, else (None, the answer)."""
    sso, away = _signed_in()
    if sso is None:
        return None, away
    if not PageForm().validate_on_submit():
        return None, _bad_form()
    if not factors.has_totp(sso.user):
        return None, _account_page()
    fresh = _needs_fresh_factor(sso)
    if fresh is not None:
        return None, fresh
    return sso, None


@bp.post("/security/totp/remove")
def remove_totp():
    sso, answer = _totp_action()
    if sso is None:
        return answer
    factors.remove_totp(sso.user, utcnow(), audit.request_origin())
    commit()
    return _account_page()


@bp.post("/security/recovery-codes")
def recovery_codes():
    sso, answer = _totp_action()
    if sso is None:
        return answer
    codes = factors.regenerate_recovery_codes(sso.user, utcnow(), audit.request_origin())
    commit()
    return _codes_page(codes)


def _bad_form() -> Response:
    page = render_template(
        "errors/error.html",
        title=_("Yêu cầu không hợp lệ"),
        message=_("Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại."),
        status=400,
    )
    return current_app.make_response((page, 400))
