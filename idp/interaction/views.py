"""Sign-in and sign-out pages: the password, then (for a person with a second factor, or who
must have one) the factor page `/login/factor` (docs/factors.md).

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
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from idp import audit
from idp.assurance import ACR_PHISHING_RESISTANT, AMR_OTP, rank
from idp.directory.models import PURPOSE_ACTIVATION, PURPOSE_RESET
from idp.directory.service import PasswordRejected
from idp.directory.store import find_user_by_sub
from idp.directory.tokens import LINK_EXPIRED, LINK_UNKNOWN, LINK_USED
from idp.extensions import commit, rollback, utcnow
from idp.factors import pending
from idp.factors import service as factors_service
from idp.factors.forms import FactorForm
from idp.i18n import LANG_COOKIE, local_clock
from idp.interaction import factor_step, passwords
from idp.interaction.device import read_device_cookie, set_device_cookie
from idp.interaction.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    NewPasswordForm,
)
from idp.interaction.service import (
    AMR_PASSWORD,
    SignInResult,
    begin_sign_in,
    finish_sign_in,
)
from idp.pages import LogoutForm, has_control_characters, is_local_path, safe_next
from idp.passkeys import ceremonies
from idp.passkeys.pages import message as passkey_message
from idp.passkeys.service import PasskeyError
from idp.security import allow_form_redirects, delete_cookie, read_cookie, set_cookie
from idp.sessions import clear_session_cookie, current_session, set_session_cookie
from idp.sessions.devices import describe_device
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
# Retry-After of "try again later" when the LDAP server that checks a password is down.
SOURCE_RETRY_SECONDS = 60
# The pending sign-in's handle (idp.factors.pending), between the password and the factor.
PENDING_COOKIE = "idp_pending"


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = (
            request.args.get("next", "") if is_local_path(request.args.get("next")) else ""
        )
        form.enrol.data = "1" if request.args.get("enrol") == "1" else ""
        hint = request.args.get("login_hint", "")
        if hint and not has_control_characters(hint):
            form.email.data = hint[:320]
        factor_step.note_goal(request.args.get("acr"))
        if request.args.get("step_up") == "1" and current_session() is not None:
            # Step-up: the session's password stands; only the second factor is asked.
            return begin_step_up(current_session(), form.next.data, form.enrol.data == "1")
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
        elif result.user.must_change_password:
            # An administrator's reset: no session (so no code, no token) until the person
            # has chosen their own password (idp.interaction.passwords).
            commit()
            response = redirect(url_for("interaction.change_password"))
            set_device_cookie(response, result.device_cookie)
            hold_for_password_change(result.user, form.next.data, bool(form.remember.data))
            return response
        else:
            return password_accepted(
                result.user,
                form.next.data,
                bool(form.remember.data),
                origin,
                device_cookie=result.device_cookie,
                enrol_asked=form.enrol.data == "1",
            )
        if result.retry_after:
            retry_after = result.retry_after
            error = throttled_message(retry_after)
            status = 429
        elif result.source_unavailable:
            retry_after = SOURCE_RETRY_SECONDS
            error = _(
                "Chưa kiểm tra được mật khẩu: hệ thống thư điện tử của tỉnh đang không trả lời. "
                "Vui lòng thử lại sau ít phút."
            )
            status = 503
        else:
            error = _("Địa chỉ thư điện tử hoặc mật khẩu không đúng.")
            status = 401
    elif request.method == "POST":
        status = 400
    notice = DONE_MESSAGES.get(request.args.get("done", "")) if status == 200 else None
    page = render_template(
        "interaction/login.html", form=form, error=error, notice=notice and notice()
    )
    response = current_app.make_response((page, status))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    # The form's submission ends at the relying party when `next` is an authorization request.
    return allow_form_redirects(response)


def password_accepted(
    user,
    next_url: str | None,
    remember: bool,
    origin: dict,
    device_cookie: str | None = None,
    enrol_asked: bool = False,
) -> Response:
    """The password was right (typed at sign-in, or just chosen after an administrator's
    reset): to the factor page when a second factor is asked (or must be enrolled), else
    the session starts at the password level."""
    ask, enrol = factor_step.factor_needed(user, enrol_asked)
    if ask:
        now = utcnow()
        handle = factor_step.begin(
            user,
            now=now,
            enrol=enrol,
            next_url=safe_next(next_url),
            remember=remember,
            password_at=now,
            origin=origin,
        )
        commit()
        response = redirect(url_for("interaction.factor"))
        keep_device_cookie(response, device_cookie)
        set_cookie(response, PENDING_COOKIE, handle, max_age=pending_seconds())
        return response
    response = redirect(safe_next(next_url))
    keep_device_cookie(response, device_cookie)
    open_session(response, user, [AMR_PASSWORD], remember, origin)
    return response


def keep_device_cookie(response: Response, value: str | None) -> None:
    """The sign-in's renewed device cookie; none after a forced password change, whose
    sign-in set it already."""
    if value:
        set_device_cookie(response, value)


def open_session(
    response: Response,
    user,
    amr: list[str],
    remember: bool,
    origin: dict,
    auth_times: dict[str, int] | None = None,
) -> None:
    """Start the SSO session of a finished sign-in (or re-authenticate the browser's session
    of the same person, or replace another person's), commit, set the cookie."""
    existing = current_session()
    now = utcnow()
    if existing is not None and existing.user_id == user.id:
        handle = reauthenticate(existing, amr=amr, auth_times=auth_times, now=now)
        commit()
        set_session_cookie(response, handle, existing.remember)
        return
    if existing is not None:
        end_sessions([existing.id], reason=REASON_REPLACED)
    handle, _sso = start_session(
        user, amr=amr, remember=remember, auth_times=auth_times, now=now, **origin
    )
    commit()
    set_session_cookie(response, handle, remember)


def pending_seconds() -> int:
    return int(current_app.config["FACTOR_PENDING_SECONDS"])


def begin_step_up(sso, next_url: str, enrol_asked: bool) -> Response:
    """A pending sign-in for the session's own person: the factor page adds the second
    factor to the session (same sid), or enrols one first when it must."""
    ask, enrol = factor_step.factor_needed(sso.user, enrol_asked)
    target = safe_next(next_url)
    if not ask:
        return redirect(target)
    handle = factor_step.begin(
        sso.user,
        now=utcnow(),
        enrol=enrol,
        next_url=target,
        sid=sso.sid,
        origin=audit.request_origin(),
    )
    commit()
    response = redirect(url_for("interaction.factor"))
    set_cookie(response, PENDING_COOKIE, handle, max_age=pending_seconds())
    return response


def waiting_sign_in():
    """The browser's live pending sign-in and its person, or (None, None). A step-up's
    pending sign-in counts only in the browser whose session it steps up."""
    waiting = pending.find(read_cookie(PENDING_COOKIE), utcnow())
    if waiting is None:
        return None, None
    if waiting.sid is not None:
        sso = current_session()
        if sso is None or sso.sid != waiting.sid or sso.user_id != waiting.user_id:
            return None, None
    user = factor_step.user_of(waiting)
    return (waiting, user) if user is not None else (None, None)


@bp.route("/login/factor", methods=["GET", "POST"])
def factor():
    form = FactorForm()
    waiting, user = waiting_sign_in()
    if waiting is None:
        return factor_gone(request.method == "POST")
    if factor_step.enrolling(waiting, user):
        return enrol_step(form, waiting, user)
    if (
        request.method == "GET"
        or not form.validate_on_submit()
        or not factor_step.offers(waiting, user, "code")
    ):
        status = 400 if request.method == "POST" else 200
        return factor_page(form, waiting, user, status=status)
    now = utcnow()
    origin = audit.request_origin()
    wait, keys = factor_step.reserve(user, now)
    commit()  # counted before the code is checked, seen by attempts made meanwhile
    if wait:
        response = factor_page(form, waiting, user, throttled_message(wait), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    outcome = factor_step.check_code(waiting, user, form.code.data, keys, now, origin)
    if outcome.method is None:
        commit()
        if outcome.locked:
            return factor_gone(True, locked=True)
        return factor_page(form, waiting, user, _("Mã xác thực không đúng hoặc đã được dùng."), 401)
    response = redirect(safe_next(waiting.next_url))
    clear_pending(response)
    open_session(response, user, [outcome.method.amr], waiting.remember, origin, waiting.methods)
    return response


def enrol_step(form: FactorForm, waiting, user) -> Response:
    """A second factor the level requires, enrolled before the session is issued: the QR
    code, then the first code, then the recovery codes (shown once)."""
    now = utcnow()
    if request.method == "GET" or not form.validate_on_submit():
        enrolment = factors_service.show_enrolment(user, now)
        commit()
        status = 400 if request.method == "POST" else 200
        return enrol_page(form, waiting, enrolment, status=status)
    origin = audit.request_origin()
    try:
        codes = factor_step.confirm_enrolment(waiting, user, form.code.data, now, origin)
    except factor_step.PendingGone:
        rollback()
        return factor_gone(True)
    if codes is None:
        commit()
        enrolment = factors_service.current_enrolment(user, factors_service.shown_mark())
        if enrolment is None or not pending.is_live(waiting, now):
            return factor_gone(True, locked=True)
        error = _("Mã xác thực không đúng hoặc đã được dùng.")
        return enrol_page(form, waiting, enrolment, error=error, status=401)
    target = safe_next(waiting.next_url)
    page = render_template("factors/recovery_codes.html", codes=codes, continue_to=target)
    response = current_app.make_response((page, 200))
    response.headers["Cache-Control"] = "no-store"
    clear_pending(response)
    open_session(response, user, [AMR_OTP], waiting.remember, origin, waiting.methods)
    return allow_form_redirects(response)


def factor_page(form, waiting, user, error: str | None = None, status: int = 200) -> Response:
    offered = factor_step.offered(waiting, user)
    page = render_template(
        "interaction/factor.html",
        form=form,
        error=error,
        step_up=waiting.sid is not None,
        offers_code=any(m.form == "code" for m in offered),
        offers_passkey=any(m.form == "passkey" for m in offered),
    )
    return allow_form_redirects(current_app.make_response((page, status)))


def enrol_page(form, waiting, enrolment, error: str | None = None, status: int = 200) -> Response:
    page = render_template(
        "interaction/factor_enrol.html",
        form=form,
        enrolment=enrolment,
        error=error,
        # A passkey is the phishing-resistant level's only method: then it comes first.
        passkey_first=factor_step.goal_rank(waiting) >= rank(ACR_PHISHING_RESISTANT),
    )
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- a passkey as the factor
# The factor page's "Dùng khóa truy cập" (idp/static/passkeys.js): options for the pending
# person's own passkeys, then the answer, which finishes the pending sign-in or step-up.
# While enrolling a first factor, a passkey may be added instead of an authenticator app.


def _json_refused(message: str, status: int, reason: str = "") -> Response:
    response = jsonify(error=message, reason=reason)
    response.status_code = status
    return response


def _json_gone(locked: bool = False) -> Response:
    response = _json_refused(gone_message(locked), 401, "locked" if locked else "gone")
    clear_pending(response)
    return response


def _json_not_now() -> Response:
    """A live pending sign-in in the other state (enrolling, or not): refused, kept."""
    return _json_refused(passkey_message("expired"), 409, "state")


@bp.post("/login/factor/passkey/options")
def factor_passkey_options():
    waiting, user = waiting_sign_in()
    if waiting is None:
        return _json_gone()
    if factor_step.enrolling(waiting, user):
        return _json_not_now()
    if not factor_step.offers(waiting, user, "passkey"):
        return _json_refused(passkey_message("no_passkeys"), 400, "no_passkeys")
    try:
        options = factor_step.passkey_options(waiting, user)
    except PasskeyError as exc:
        return _json_refused(passkey_message(exc.reason), 400, exc.reason)
    return jsonify(publicKey=options)


@bp.post("/login/factor/passkey")
def factor_passkey():
    waiting, user = waiting_sign_in()
    if waiting is None:
        return _json_gone()
    if factor_step.enrolling(waiting, user):
        return _json_not_now()
    credential = factor_step.json_body(request.get_data()).get("credential")
    now, origin = utcnow(), audit.request_origin()
    try:
        result = factor_step.check_passkey(waiting, user, credential, now, origin)
    except PasskeyError as exc:
        commit()  # the failure counted on the pending sign-in (and a cloned key's event)
        if not pending.is_live(waiting, now):
            return _json_gone(locked=True)
        return _json_refused(passkey_message(exc.reason), 400, exc.reason)
    except factor_step.PendingGone:
        rollback()
        return _json_gone()
    response = jsonify(redirect=safe_next(waiting.next_url))
    clear_pending(response)
    open_session(response, user, result.amr, waiting.remember, origin, waiting.methods)
    return response


@bp.post("/login/factor/passkey/new/options")
def factor_passkey_new_options():
    waiting, user = waiting_sign_in()
    if waiting is None:
        return _json_gone()
    if not factor_step.enrolling(waiting, user):
        return _json_not_now()
    try:
        options = ceremonies.begin_registration(user)
    except PasskeyError as exc:
        return _json_refused(passkey_message(exc.reason), 400, exc.reason)
    return jsonify(publicKey=options)


@bp.post("/login/factor/passkey/new")
def factor_passkey_new():
    """A first passkey added while enrolling: then the factor page asks to use it (adding a
    passkey proves nothing by itself: attestation is not requested)."""
    waiting, user = waiting_sign_in()
    if waiting is None:
        return _json_gone()
    if not factor_step.enrolling(waiting, user):
        return _json_not_now()
    body = factor_step.json_body(request.get_data())
    name = body.get("name") if isinstance(body.get("name"), str) else None
    default_name = describe_device(request.user_agent.string) or _("Khóa truy cập")
    try:
        ceremonies.finish_registration(user, body.get("credential"), name, default_name)
        commit()
    except PasskeyError as exc:
        rollback()
        return _json_refused(passkey_message(exc.reason), 400, exc.reason)
    return jsonify(redirect=url_for("interaction.factor"))


def gone_message(locked: bool = False) -> str:
    if locked:
        return _("Bạn đã nhập sai mã xác thực quá nhiều lần. Vui lòng đăng nhập lại.")
    return _("Phiên xác thực đã hết hạn hoặc không còn hiệu lực. Vui lòng đăng nhập lại.")


def factor_gone(posted: bool, locked: bool = False) -> Response:
    """No live pending sign-in: expired, finished, locked, or never made in this browser."""
    page = render_template("interaction/factor_gone.html", message=gone_message(locked))
    response = current_app.make_response((page, 401 if locked else (400 if posted else 200)))
    clear_pending(response)
    return response


def clear_pending(response: Response) -> None:
    delete_cookie(response, PENDING_COOKIE)


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


# -- passwords: activation, "Quên mật khẩu?", change (docs/accounts.md) ---------------------

# The sign-in page's message after a password was set (`/login?done=...`): fixed texts,
# never words taken from the URL.
DONE_MESSAGES = {
    "activated": lambda: _("Tài khoản đã được kích hoạt. Mời bạn đăng nhập bằng mật khẩu mới."),
    "reset": lambda: _("Mật khẩu đã được đặt lại. Mời bạn đăng nhập bằng mật khẩu mới."),
}
# The page session's key for a sign-in held until the password is changed.
PASSWORD_CHANGE_TICKET = "pw_change"


def hold_for_password_change(user, next_url: str | None, remember: bool) -> None:
    """Remember, in this browser's page session only, that `user` signed in with a
    temporary password and must now choose their own (PASSWORD_CHANGE_TICKET_SECONDS)."""
    seconds = current_app.config["PASSWORD_CHANGE_TICKET_SECONDS"]
    session[PASSWORD_CHANGE_TICKET] = {
        "sub": user.sub,
        "fp": passwords.change_ticket_fingerprint(user),
        "next": next_url if is_local_path(next_url) else "",
        "remember": remember,
        "until": int(utcnow().timestamp()) + seconds,
    }


def _held_user():
    """The person whose sign-in waits for a new password in this browser, or None."""
    ticket = session.get(PASSWORD_CHANGE_TICKET)
    if not isinstance(ticket, dict) or int(ticket.get("until", 0)) <= utcnow().timestamp():
        return None, {}
    user = find_user_by_sub(str(ticket.get("sub", "")))
    if (
        user is None
        or not user.is_active
        or not user.must_change_password
        or passwords.change_ticket_fingerprint(user) != ticket.get("fp")
    ):
        return None, {}
    return user, ticket


def _password_page(template: str, status: int = 200, **context):
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _policy_errors(form, exc: PasswordRejected) -> None:
    form.password.errors = [*form.password.errors, *(v.message for v in exc.violations)]


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Same page, same status, whether the address is an account or not."""
    form = ForgotPasswordForm()
    if request.method == "GET":
        hint = request.args.get("email", "")
        if hint and not has_control_characters(hint):
            form.email.data = hint[:320]
        return _password_page("interaction/forgot.html", form=form)
    if not form.validate_on_submit():
        return _password_page("interaction/forgot.html", 400, form=form)
    origin = audit.request_origin()
    outcome = passwords.request_reset(form.email.data, **origin)
    commit()
    if outcome == passwords.REQUEST_CLIENT_LIMIT:
        error = _("Có quá nhiều yêu cầu từ mạng của bạn. Vui lòng thử lại sau.")
        response = _password_page("interaction/forgot.html", 429, form=form, error=error)
        response.headers["Retry-After"] = str(current_app.config["PASSWORD_RESET_WINDOW_SECONDS"])
        return response
    return _password_page("interaction/forgot_sent.html", email=form.email.data)


LINK_PROBLEMS = {
    LINK_UNKNOWN: (
        404,
        lambda: _("Liên kết không hợp lệ. Hãy kiểm tra bạn đã mở đúng liên kết trong thư."),
    ),
    LINK_USED: (
        410,
        lambda: _("Liên kết này đã được sử dụng. Mỗi liên kết chỉ dùng được một lần."),
    ),
    LINK_EXPIRED: (410, lambda: _("Liên kết này đã hết hạn.")),
}


def _link_page(token: str, purpose: str):
    """Activation (`/activate/<token>`) and reset (`/password/reset/<token>`) pages."""
    check = passwords.check_link(token, purpose)
    if check.user is None:
        status, message = LINK_PROBLEMS[check.problem]
        return _password_page(
            "interaction/link_problem.html", status, message=message(), purpose=purpose
        )
    form = NewPasswordForm()
    user, status = check.user, 200
    if form.validate_on_submit():
        try:
            done = passwords.set_password_by_link(
                token, purpose, form.password.data, audit.request_origin()
            )
        except PasswordRejected as exc:
            _policy_errors(form, exc)
            status = 400
        else:
            if done is None:  # another request used the link first
                commit()
                status, message = LINK_PROBLEMS[LINK_USED]
                return _password_page(
                    "interaction/link_problem.html", status, message=message(), purpose=purpose
                )
            commit()
            done_as = "activated" if purpose == PURPOSE_ACTIVATION else "reset"
            return redirect(url_for("interaction.login", login_hint=done.email, done=done_as))
    elif request.method == "POST":
        status = 400
    return _password_page(
        "interaction/set_password.html", status, form=form, user=user, purpose=purpose
    )


@bp.route("/activate/<token>", methods=["GET", "POST"])
def activate(token: str):
    return _link_page(token, PURPOSE_ACTIVATION)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _link_page(token, PURPOSE_RESET)


@bp.route("/password/change", methods=["GET", "POST"])
def change_password():
    """The account page's change of password, and the change forced after an
    administrator's reset (a sign-in held in this browser's page session)."""
    held, ticket = _held_user()
    if held is not None:
        return _forced_change(held, ticket)
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=url_for("interaction.change_password")))
    form = ChangePasswordForm()
    status, error, retry_after = 200, None, 0
    if form.validate_on_submit():
        retry_after = passwords.count_change_attempt(sso.user)
        commit()  # counted before the password is checked, as a sign-in is
        if retry_after:
            error, status = throttled_message(retry_after), 429
        else:
            try:
                passwords.change_password(
                    sso.user,
                    form.current.data,
                    form.password.data,
                    keep_session_id=sso.id,
                    origin=audit.request_origin(),
                )
            except passwords.WrongCurrentPassword:
                commit()  # the failure's audit event
                form.current.errors = [_("Mật khẩu hiện tại không đúng.")]
                status = 401
            except PasswordRejected as exc:
                # The current password was right: the attempt counted above is given back
                # (nothing else was written before the new one was refused).
                commit()
                _policy_errors(form, exc)
                status = 400
            else:
                commit()
                return redirect(url_for("account.index", password="changed") + "#security")
    elif request.method == "POST":
        status = 400
    response = _password_page(
        "interaction/change_password.html", status, form=form, user=sso.user, error=error
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _forced_change(user, ticket: dict):
    form = NewPasswordForm()
    status = 200
    if form.validate_on_submit():
        origin = audit.request_origin()
        try:
            passwords.finish_forced_change(user, form.password.data, origin)
        except PasswordRejected as exc:
            _policy_errors(form, exc)
            status = 400
        else:
            session.pop(PASSWORD_CHANGE_TICKET, None)
            # The new password is proof enough for the first step: a second factor, when
            # the person has one or must, is still asked before the session starts.
            return password_accepted(user, ticket.get("next"), bool(ticket.get("remember")), origin)
    elif request.method == "POST":
        status = 400
    return _password_page(
        "interaction/change_password.html", status, form=form, user=user, forced=True
    )
