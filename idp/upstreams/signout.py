"""Signing out of the upstream too, and the upstream signing us out (docs/upstreams.md,
"Signing out").

- Our sign-out of a session an upstream started (the sign-out page, RP-Initiated Logout
  at our end_session endpoint): after our own relying parties were told (back-channel
  notices queued, front-channel frames shown), the browser goes to the upstream's logout
  URL (its `logout_url` template, or its `end_session_endpoint`) with `id_token_hint`,
  `post_logout_redirect_uri` = /login/upstream/<name>/logged-out and a random `state`,
  and from there on to where our sign-out was going. The destination waits in the
  browser's signed page session under that state; a return with another state goes to
  the signed-out page only.
- The upstream's back-channel logout token (idp.upstreams.backchannel) at
  /login/upstream/<name>/backchannel-logout.

Only the browser's own session is sent upstream: an administrator ending someone's
sessions, or a logout token from the upstream itself, has no browser to send.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)

from idp import audit
from idp.extensions import commit, csrf, db, rollback, utcnow
from idp.sessions import hooks
from idp.sessions.logout import REASON_LOGOUT, REASON_RP_LOGOUT, LogoutResult, with_query
from idp.settings import SettingsError
from idp.upstreams import backchannel
from idp.upstreams.config import Upstream
from idp.upstreams.models import UpstreamSession

bp = Blueprint("upstream_signout", __name__)

# The page session's key: {"state": ..., "next": ...} while the browser is at the upstream.
RETURN_KEY = "upstream_logout_return"
# Our sign-outs that send the browser upstream (SsoSession.end_reason values): the person's
# own, here or at a relying party.
BROWSER_REASONS = (REASON_LOGOUT, REASON_RP_LOGOUT)


def _upstreams() -> dict[str, Upstream]:
    # lazy: idp.upstreams' __init__ imports this module (its init_app registers it)
    from idp.upstreams import configured

    return configured(current_app)


# ---------------------------------------------------------------- our sign-out, upstream


def logout_url(upstream: Upstream, id_token: str | None, state: str) -> str | None:
    """The upstream's sign-out URL for this session: its end_session_endpoint (settings or
    discovery) with the RP-Initiated Logout parameters, else its `logout_url` template;
    None when it offers neither."""
    back = url_for("upstream_signout.logged_out", name=upstream.name, _external=True)
    values = {
        "id_token_hint": id_token or "",
        "post_logout_redirect_uri": back,
        "state": state,
        "client_id": upstream.client_id,
    }
    endpoint = _end_session_endpoint(upstream)
    if endpoint:
        return with_query(endpoint, {k: v for k, v in values.items() if v})
    template = upstream.logout_url
    if not template:
        return None
    if "{" not in template:
        return with_query(template, {k: v for k, v in values.items() if v})
    return template.format(**{k: quote(v, safe="") for k, v in values.items()})


def _end_session_endpoint(upstream: Upstream) -> str:
    """From the settings, else the (cached) discovery document; "" when unknown."""
    given = upstream.endpoints.get("end_session_endpoint", "")
    if given or not upstream.discovery:
        return given
    # lazy: the client module imports the package, whose init_app imports this module
    from idp.upstreams import client

    try:
        meta = client.metadata(upstream, client.Limits.of(current_app.config))
    except client.UpstreamError:  # unreachable now: the logout_url template, if any
        return ""
    return meta.endpoint("end_session_endpoint")


def on_session_ended(sender: Flask, *, ended, reason: str, browser_sid, result: LogoutResult, **_):
    """For the browser's own session, if an upstream started it: its sign-out comes next."""
    if browser_sid is None or reason not in BROWSER_REASONS:
        return
    own = [e for e in ended if e.sid == browser_sid]
    if not own:
        return
    row = db.session.execute(
        sa.select(UpstreamSession).where(UpstreamSession.sso_session_id == own[0].id)
    ).scalar_one_or_none()
    upstream = _upstreams().get(row.upstream) if row is not None else None
    if upstream is None:
        return
    state = secrets.token_urlsafe(24)
    url = logout_url(upstream, _id_token_of(row), state)
    if url is not None:
        result.continue_through = _through(url, state)


def _through(url: str, state: str) -> Callable[[str | None], str]:
    def continue_through(destination: str | None) -> str:
        session[RETURN_KEY] = {"state": state, "next": destination or ""}
        return url

    return continue_through


def _id_token_of(row: UpstreamSession) -> str | None:
    """The upstream's ID token of the session (None when it no longer opens: the logout
    goes without the hint)."""
    # lazy: the store imports the flow and client modules, which import the package
    from idp.upstreams.store import open_id_token

    return open_id_token(current_app.config, row)


@bp.get("/login/upstream/<name>/logged-out")
def logged_out(name: str) -> Response:
    """Back from the upstream's sign-out: on to where our sign-out was going."""
    waiting = session.pop(RETURN_KEY, None)
    state = request.args.get("state", "")
    if (
        isinstance(waiting, dict)
        and isinstance(waiting.get("state"), str)
        and hmac.compare_digest(waiting["state"].encode(), state.encode())
        and waiting.get("next")
    ):
        return redirect(waiting["next"])
    return redirect(url_for("interaction.logged_out"))


# ---------------------------------------------------------------- the upstream's sign-out


def _error(description: str, status: int = 400) -> Response:
    response = jsonify(error="invalid_request", error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/login/upstream/<name>/backchannel-logout")
@csrf.exempt  # a server-to-server call carrying a signed token, not a browser form
def backchannel_logout(name: str) -> Response:
    upstream = _upstreams().get(name)
    if upstream is None:
        return _error("unknown upstream", 404)
    token = request.form.get("logout_token", "")
    now = utcnow()
    cfg = current_app.config
    origin = audit.request_origin()
    try:
        keys = _keys_for(upstream, backchannel.key_id(token))
        claims = backchannel.verify_logout_token(
            token,
            keys,
            upstream,
            now=now,
            skew=int(cfg["UPSTREAM_CLOCK_SKEW_SECONDS"]),
            max_age=int(cfg["UPSTREAM_LOGOUT_TOKEN_MAX_AGE_SECONDS"]),
        )
        if not backchannel.note_token(upstream.name, claims, now):
            raise backchannel.LogoutTokenRejected("replayed jti")
    except backchannel.LogoutTokenRejected as rejected:
        rollback()
        backchannel.refuse(upstream, rejected.reason, origin)
        commit()
        return _error(rejected.reason)
    except sa.exc.IntegrityError:  # the same jti, accepted by a request racing this one
        rollback()
        backchannel.refuse(upstream, "replayed jti", origin)
        commit()
        return _error("replayed jti")
    backchannel.end_linked_sessions(upstream, claims, now)
    commit()
    response = Response(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _keys_for(upstream: Upstream, kid: str | None) -> Any:
    """The upstream's signing keys (the broker's cache; re-fetched for an unknown kid)."""
    # lazy: the client module imports the package, whose init_app imports this module
    from idp.upstreams import client

    limits = client.Limits.of(current_app.config)
    try:
        jwks_uri = client.metadata(upstream, limits).endpoint("jwks_uri")
        return client.signing_keys(upstream, limits, jwks_uri, kid)
    except client.UpstreamError as error:  # unreachable upstream, broken JWKS
        raise backchannel.LogoutTokenRejected(f"upstream keys unavailable ({error.code})") from None


def init_app(app: Flask) -> None:
    max_age = app.config.get("UPSTREAM_LOGOUT_TOKEN_MAX_AGE_SECONDS")
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
        raise SettingsError(
            "IDP_UPSTREAM_LOGOUT_TOKEN_MAX_AGE_SECONDS must be a positive number of seconds"
        )
    app.register_blueprint(bp)
    hooks.session_ended.connect(on_session_ended, app)
