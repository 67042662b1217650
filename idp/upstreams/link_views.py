"""The pages of the link step and of the person's links (idp.upstreams.linking).

- `/login/upstream/<name>/link/prove`: notes the moment and sends the person to our own
  sign-in page (password, second factor, throttling: all of idp.interaction's sign-in,
  reached by URL so this package does not import it), coming back to
- `/login/upstream/<name>/link/confirm`: the account signed in after that moment, and the
  upstream identity; the person confirms (a CSRF-protected form) and the link is made.
- `/login/upstream/<name>/link/email`: the same confirmation for the account an upstream
  trusted for verified e-mail names.
- `/login/upstream/<name>/link/create`: a new account, where the upstream allows it.
- `/account/upstream-links/<id>/remove`: the person removes a link, after a fresh second
  factor (or a fresh password when the account has none).

Every page answers in the person's language; a refused link is a page, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from idp import audit
from idp.assurance import AMR_PASSWORD, method_time
from idp.extensions import commit, rollback, utcnow
from idp.factors import methods
from idp.factors import service as factors
from idp.pages import PageForm, is_local_path
from idp.security import allow_form_redirects, delete_cookie, read_cookie
from idp.sessions import current_session
from idp.upstreams import configured, linking, store
from idp.upstreams.config import Upstream
from idp.upstreams.flow import VerifiedIdentity
from idp.upstreams.views import LINK_COOKIE, find_upstream, pending_identity, signed_in

bp = Blueprint("upstream_link", __name__)

# The page session's key: {"upstream": name, "since": epoch seconds, "sid" and "times" of
# the browser's session then} from the moment the person chose to prove an account; a
# sign-in before it proves nothing.
PROOF_KEY = "upstream_link_proof"


def _next() -> str:
    value = request.args.get("next", "")
    return value if is_local_path(value) else ""


def _gone(upstream: Upstream) -> Response:
    """No pending link in this browser (expired, used, another browser)."""
    page = render_template(
        "upstreams/link_refused.html",
        upstream=upstream,
        message=_(
            "Phiên liên kết tài khoản đã hết hạn hoặc không còn hợp lệ. Vui lòng đăng nhập "
            "lại qua %(name)s.",
            name=upstream.display_name,
        ),
        back=url_for("interaction.login"),
    )
    return make_response(page, 400)


def _refused(upstream: Upstream, reason: str) -> Response:
    rollback()
    messages = {
        linking.TAKEN: _(
            "Danh tính này đã được liên kết với một tài khoản khác. Vui lòng liên hệ quản trị "
            "viên nếu bạn cho rằng có nhầm lẫn."
        ),
        linking.ALREADY_LINKED: _(
            "Tài khoản của bạn đã được liên kết với một danh tính khác tại %(name)s. Hãy gỡ "
            "liên kết cũ trong trang tài khoản trước.",
            name=upstream.display_name,
        ),
        linking.NO_UNIT: _("Chưa thể tạo tài khoản. Vui lòng liên hệ quản trị viên."),
    }
    page = render_template(
        "upstreams/link_refused.html",
        upstream=upstream,
        message=messages.get(reason, _("Không thể liên kết tài khoản theo cách này.")),
        back=url_for("interaction.login"),
    )
    return make_response(page, 409 if reason in (linking.TAKEN, linking.ALREADY_LINKED) else 403)


def _linked(user, identity: VerifiedIdentity, next_url: str) -> Response:
    """The link is made: the pending link is used up, the session records the upstream
    sign-in (idp.upstreams.views.signed_in commits), on to `next`."""
    store.end_pending_link(read_cookie(LINK_COOKIE))
    session.pop(PROOF_KEY, None)
    response = signed_in(user, identity, next_url)
    delete_cookie(response, LINK_COOKIE)
    return response


def _bad_form() -> Response:
    page = render_template(
        "errors/error.html",
        title=_("Yêu cầu không hợp lệ"),
        message=_("Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại."),
        status=400,
    )
    return make_response(page, 400)


# ---------------------------------------------------------------- proving an account


@bp.get("/login/upstream/<name>/link/prove")
def prove(name: str):
    upstream = find_upstream(name)
    if pending_identity(upstream.name) is None:
        return _gone(upstream)
    start = linking.ProofStart.of(current_session())
    session[PROOF_KEY] = {
        "upstream": upstream.name,
        "since": int(utcnow().timestamp()),
        "sid": start.sid,
        "times": dict(start.times),
    }
    confirm = url_for("upstream_link.confirm", name=upstream.name, next=_next() or None)
    return redirect(url_for("interaction.login", next=confirm))


def _proved_session(upstream: Upstream):
    """The browser's session if its person proved the account after choosing to."""
    marker = session.get(PROOF_KEY)
    sso = current_session()
    if (
        sso is None
        or not isinstance(marker, dict)
        or marker.get("upstream") != upstream.name
        or not isinstance(marker.get("since"), int)
    ):
        return None
    since = datetime.fromtimestamp(marker["since"], UTC)
    times = marker.get("times") if isinstance(marker.get("times"), dict) else {}
    before = linking.ProofStart(marker.get("sid"), times)
    return sso if linking.proved_since(sso, since, before) else None


@bp.route("/login/upstream/<name>/link/confirm", methods=["GET", "POST"])
def confirm(name: str):
    upstream = find_upstream(name)
    identity = pending_identity(upstream.name)
    if identity is None:
        return _gone(upstream)
    sso = _proved_session(upstream)
    if sso is None:
        return redirect(url_for("upstream_link.prove", name=upstream.name, next=_next() or None))
    form = PageForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _bad_form()
        try:
            linking.link_by_proof(sso.user, upstream, identity, audit.request_origin())
        except linking.LinkRefused as refused:
            return _refused(upstream, refused.reason)
        return _linked(sso.user, identity, _next())
    return _confirm_page(upstream, identity, sso.user, form, "confirm")


def _confirm_page(upstream, identity, user, form, action: str) -> Response:
    page = render_template(
        "upstreams/link_confirm.html",
        upstream=upstream,
        identity_name=identity.attributes.get("name") or "",
        user=user,
        form=form,
        action=url_for(f"upstream_link.{action}", name=upstream.name, next=_next() or None),
        by_email=action == "email",
        creating=action == "create",
        cancel=url_for("interaction.login"),
    )
    response = make_response(page, 200)
    response.headers["Cache-Control"] = "no-store"
    # The form ends, through redirects, at the relying party that asked for the sign-in.
    return allow_form_redirects(response)


# ---------------------------------------------------------------- a trusted e-mail


@bp.route("/login/upstream/<name>/link/email", methods=["GET", "POST"])
def email(name: str):
    upstream = find_upstream(name)
    identity = pending_identity(upstream.name)
    if identity is None:
        return _gone(upstream)
    user = linking.email_candidate(upstream, identity)
    if user is None:
        return _refused(upstream, linking.NOT_ALLOWED)
    form = PageForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _bad_form()
        try:
            user, _link = linking.link_by_email(upstream, identity, audit.request_origin())
        except linking.LinkRefused as refused:
            return _refused(upstream, refused.reason)
        return _linked(user, identity, _next())
    return _confirm_page(upstream, identity, user, form, "email")


# ---------------------------------------------------------------- a new account


@bp.route("/login/upstream/<name>/link/create", methods=["GET", "POST"])
def create(name: str):
    upstream = find_upstream(name)
    identity = pending_identity(upstream.name)
    if identity is None:
        return _gone(upstream)
    if not upstream.create_accounts:
        return _refused(upstream, linking.NOT_ALLOWED)
    form = PageForm()
    if request.method == "GET":
        return _confirm_page(upstream, identity, None, form, "create")
    if not form.validate_on_submit():
        return _bad_form()
    try:
        user = linking.create_account(upstream, identity, audit.request_origin())
    except linking.LinkRefused as refused:
        return _refused(upstream, refused.reason)
    return _linked(user, identity, _next())


# ---------------------------------------------------------------- the account page


def _fresh_proof(sso) -> bool:
    """A second factor within FACTOR_FRESH_SECONDS, or the password then for an account
    without one."""
    seconds = int(current_app.config["FACTOR_FRESH_SECONDS"])
    now = utcnow()
    if methods.has_second_factor(sso.user):
        return factors.is_fresh(sso.auth_times, now, seconds)
    if not (sso.auth_times or {}).get(AMR_PASSWORD):
        return False
    given = method_time(sso.auth_times, [AMR_PASSWORD], now)
    return (now - given).total_seconds() <= seconds


@bp.post("/account/upstream-links/<int:link_id>/remove")
def remove(link_id: int):
    sso = current_session()
    account = url_for("account.index", _anchor="security")
    if sso is None:
        return redirect(url_for("interaction.login", next=url_for("account.index")))
    if not PageForm().validate_on_submit():
        return _bad_form()
    if not _fresh_proof(sso):
        query = {"next": account}
        if methods.has_second_factor(sso.user):
            query["step_up"] = "1"
        return redirect(url_for("interaction.login") + "?" + urlencode(query))
    linking.remove_link(sso.user, link_id, audit.request_origin())
    commit()
    return redirect(account)


def _account_links(user) -> list[dict]:
    names = configured(current_app)
    return [
        {
            "id": link.id,
            "upstream": names[link.upstream].display_name
            if link.upstream in names
            else link.upstream,
            "linked_by": link.linked_by,
            "created_at": link.created_at,
            "last_used_at": link.last_used_at,
        }
        for link in linking.links_of(user)
    ]


def _link_choices(name: str) -> dict:
    """What the link step offers this browser's pending identity (the link page)."""
    upstream = configured(current_app).get(name)
    identity = pending_identity(name) if upstream is not None else None
    if upstream is None or identity is None:
        return {}
    candidate = linking.email_candidate(upstream, identity)
    return {
        "prove": url_for("upstream_link.prove", name=name, next=_next() or None),
        "email": url_for("upstream_link.email", name=name, next=_next() or None)
        if candidate is not None
        else None,
        "email_address": candidate.email if candidate is not None else None,
        "create": url_for("upstream_link.create", name=name, next=_next() or None)
        if upstream.create_accounts
        else None,
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _upstream_links() -> dict:
        # The account page's list of links, and the link page's choices.
        return {"upstream_links_of": _account_links, "upstream_link_choices": _link_choices}
