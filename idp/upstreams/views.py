"""The pages of brokered sign-in: the button's route, the callback, the link step.

- `/login/upstream/<name>?next=<local path>`: off to the upstream (idp.upstreams.flow).
- `/login/upstream/<name>/callback`: back from it; a linked, active person gets a session
  like a password sign-in's and goes on to `next`; an identity without a link goes to the
  link step; anything wrong ends on the error page (in the person's language, a way back
  to the sign-in page, no session, an audit event).
- `/login/upstream/<name>/link`: the link step, reading the pending link of the cookie
  LINK_COOKIE (`pending_identity()`). Here it says the account is not linked and how to
  link one; proving a local account and creating one build on it.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from idp import audit
from idp.extensions import commit, rollback
from idp.pages import is_local_path, safe_next
from idp.security import delete_cookie, read_cookie, set_cookie
from idp.sessions import current_session, set_session_cookie
from idp.upstreams import client, configured, flow, service
from idp.upstreams.client import Limits, UpstreamError
from idp.upstreams.config import Upstream
from idp.upstreams.flow import VerifiedIdentity
from idp.upstreams.store import find_pending_link

bp = Blueprint("upstreams", __name__)
log = logging.getLogger(__name__)

# The sealed state of a sign-in sent upstream (idp.upstreams.flow), one at a time.
FLOW_COOKIE = "idp_upstream"
# The handle of a verified identity waiting for the link step (upstream_pending_links).
LINK_COOKIE = "idp_upstream_link"

# Our redirect URI at an upstream, under the issuer (as every endpoint of discovery).
CALLBACK_PATH = "/login/upstream/{name}/callback"

# HTTP status of the error page by kind: the person's own doing or a stale page is 400,
# the upstream's misbehaviour 502, its silence 504, a refused account 403.
ERROR_STATUS = {
    client.STATE: 400,
    client.UPSTREAM_DENIED: 403,
    client.REFUSED_ACCOUNT: 403,
    client.LEVEL: 403,
    client.SLOW: 504,
    client.UNKNOWN_UPSTREAM: 404,
}


def error_message(code: str, detail: str, name: str) -> str:
    """The error page's sentence, in the person's language."""
    if code == client.UPSTREAM_DENIED and detail == "access_denied":
        return _("Bạn đã hủy hoặc từ chối đăng nhập tại %(name)s.", name=name)
    messages = {
        client.UPSTREAM_DENIED: lambda: _("%(name)s đã báo lỗi và không cho đăng nhập.", name=name),
        client.STATE: lambda: _(
            "Lượt đăng nhập qua %(name)s không hợp lệ hoặc đã hết hạn (có thể do bấm quay "
            "lại, mở trong trình duyệt khác hoặc chờ quá lâu).",
            name=name,
        ),
        client.EXPIRED: lambda: _(
            "Thông tin đăng nhập nhận từ %(name)s đã hết hạn hoặc chưa có hiệu lực.", name=name
        ),
        client.UNREACHABLE: lambda: _("Không kết nối được với %(name)s.", name=name),
        client.SLOW: lambda: _("%(name)s không phản hồi kịp thời.", name=name),
        client.LEVEL: lambda: _(
            "Mức độ xác thực mà %(name)s cung cấp không được hệ thống chấp nhận.", name=name
        ),
        client.REFUSED_ACCOUNT: lambda: _(
            "Tài khoản liên kết với danh tính này đã bị khóa hoặc ngừng sử dụng. Vui lòng "
            "liên hệ quản trị viên."
        ),
        client.UNKNOWN_UPSTREAM: lambda: _("Không có hình thức đăng nhập này."),
    }
    found = messages.get(code)
    if found is not None:
        return found()
    return _(
        "Thông tin nhận từ %(name)s không hợp lệ nên hệ thống không cho đăng nhập, để bảo vệ "
        "tài khoản của bạn.",
        name=name,
    )


def error_page(
    upstream_name: str, display_name: str, error: UpstreamError, next_url: str = ""
) -> Response:
    """The error page; the audit event; no session. The flow cookie is deleted."""
    rollback()
    service.audit_failure(upstream_name, error.code, error.detail, audit.request_origin())
    commit()
    log.info("upstream sign-in refused: %s %s %s", upstream_name, error.code, error.detail)
    back = url_for("interaction.login", next=next_url if is_local_path(next_url) else None)
    page = render_template(
        "upstreams/error.html",
        message=error_message(error.code, error.detail, display_name),
        code=error.code,
        back=back,
    )
    response = make_response(page, ERROR_STATUS.get(error.code, 502))
    delete_cookie(response, FLOW_COOKIE)
    return response


def find_upstream(name: str) -> Upstream:
    upstream = configured(current_app).get(name)
    if upstream is None:
        abort(404)
    return upstream


def callback_url(upstream: Upstream) -> str:
    """Our redirect URI at the upstream: the issuer's origin, never the request's Host."""
    return current_app.config["ISSUER"] + CALLBACK_PATH.format(name=upstream.name)


@bp.route("/login/upstream/<name>")
def start(name: str):
    upstream = find_upstream(name)
    next_url = request.args.get("next", "")
    next_url = next_url if is_local_path(next_url) else ""
    try:
        meta = client.metadata(upstream, Limits.of(current_app.config))
    except UpstreamError as exc:
        return error_page(upstream.name, upstream.display_name, exc, next_url)
    location, cookie = flow.begin(
        upstream,
        meta,
        redirect_uri=callback_url(upstream),
        next_url=next_url,
        goal=request.args.get("acr"),
        force=request.args.get("force") == "1",
        config=current_app.config,
    )
    response = redirect(location)
    set_cookie(
        response, FLOW_COOKIE, cookie, max_age=int(current_app.config["UPSTREAM_FLOW_SECONDS"])
    )
    return response


@bp.route(CALLBACK_PATH.replace("{name}", "<name>"))
def callback(name: str):
    upstream = find_upstream(name)
    config = current_app.config
    next_url = ""
    try:
        state = flow.open_flow(read_cookie(FLOW_COOKIE), upstream.name, config)
        next_url = state.next_url
        limits = Limits.of(config)
        identity = flow.finish(
            upstream,
            limits,
            client.metadata(upstream, limits),
            state,
            request.args,
            redirect_uri=callback_url(upstream),
            config=config,
        )
        outcome = service.find_person(identity, config, audit.request_origin())
    except UpstreamError as exc:
        return error_page(upstream.name, upstream.display_name, exc, next_url)
    if outcome.user is None:
        commit()
        response = redirect(url_for("upstreams.link", name=upstream.name, next=next_url or None))
        set_cookie(
            response,
            LINK_COOKIE,
            outcome.pending_handle or "",
            max_age=int(config["UPSTREAM_LINK_SECONDS"]),
        )
    else:
        response = signed_in(outcome.user, identity, next_url)
    delete_cookie(response, FLOW_COOKIE)
    return response


def signed_in(user, identity: VerifiedIdentity, next_url: str, remember: bool = False) -> Response:
    """Start (or re-authenticate) the SSO session of a brokered sign-in, commit, set the
    cookie, go on to `next`. The link step calls this too once it has linked a person."""
    handle, sso = service.start_upstream_session(
        user,
        identity,
        current_session(),
        current_app.config,
        audit.request_origin(),
        remember=remember,
    )
    commit()
    response = redirect(safe_next(next_url))
    set_session_cookie(response, handle, sso.remember)
    return response


def pending_identity(name: str) -> VerifiedIdentity | None:
    """The verified identity of this browser's pending link for upstream `name`, or None."""
    identity = find_pending_link(read_cookie(LINK_COOKIE), current_app.config)
    if identity is None or identity.upstream != name:
        return None
    return identity


@bp.route("/login/upstream/<name>/link", methods=["GET", "POST"])
def link(name: str):
    """The link step (a seam: proving a local account and creating one are added here)."""
    upstream = find_upstream(name)
    next_url = request.args.get("next", "")
    identity = pending_identity(upstream.name)
    if identity is None:
        error = UpstreamError(client.STATE, "no pending link in this browser")
        return error_page(upstream.name, upstream.display_name, error, next_url)
    back = url_for("interaction.login", next=next_url if is_local_path(next_url) else None)
    page = render_template("upstreams/link.html", upstream=upstream, back=back)
    return make_response(page, 200)
