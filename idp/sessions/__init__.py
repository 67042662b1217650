"""SSO sessions: the cookie, the server-side record and the single sign-out fan-out.

models/store: sessions and the logout outbox; logout: ending sessions and telling the
relying parties; delivery/worker: back-channel logout tokens; views: the account page's
session list and the signed-out page; cli: `idp worker`, `idp sessions`,
`idp logout-deliveries`.
"""

from __future__ import annotations

from flask import Flask, Response, g

from idp.directory import hooks as directory_hooks
from idp.security import delete_cookie, read_cookie, set_cookie
from idp.sessions.logout import end_sessions_of_users
from idp.sessions.models import SsoSession
from idp.sessions.store import find_session, session_lifetime
from idp.settings import SettingsError

# The base name of the SSO session cookie (idp.security.cookie_name: `__Host-idp_sso` on https).
SSO_COOKIE = "idp_sso"


def current_session() -> SsoSession | None:
    """The live SSO session of this request's browser, looked up once per request."""
    if "sso" not in g:
        g.sso = find_session(read_cookie(SSO_COOKIE))
    return g.sso


def set_session_cookie(response: Response, handle: str, remember: bool) -> None:
    max_age = int(session_lifetime(remember).total_seconds()) if remember else None
    set_cookie(response, SSO_COOKIE, handle, max_age=max_age)


def clear_session_cookie(response: Response) -> None:
    delete_cookie(response, SSO_COOKIE)


def check_logout_settings(config: dict) -> None:
    """Fail fast on logout settings the delivery could not work with."""
    for key in (
        "LOGOUT_TOKEN_TTL_SECONDS",
        "LOGOUT_RETRY_SECONDS",
        "LOGOUT_RETRY_FIRST_DELAY_SECONDS",
        "LOGOUT_RETRY_MAX_DELAY_SECONDS",
        "LOGOUT_CONNECT_TIMEOUT_SECONDS",
        "LOGOUT_TIMEOUT_SECONDS",
        "LOGOUT_IMMEDIATE_THREADS",
        "LOGOUT_DELIVERY_KEEP_SECONDS",
        "WORKER_POLL_SECONDS",
    ):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SettingsError(f"IDP_{key} must be a positive number")


def _end_withdrawn_sign_ins(_app: Flask, *, user_ids: list[int], reason: str) -> int:
    return end_sessions_of_users(user_ids, reason)


def init_app(app: Flask) -> None:
    # cycle: views and cli import this package's cookie helpers
    from idp.sessions import cli, models, overview, views, worker  # noqa: F401

    check_logout_settings(app.config)
    directory_hooks.sign_ins_withdrawn.connect(_end_withdrawn_sign_ins, sender=app)
    app.register_blueprint(views.bp)
    cli.init_app(app)

    @app.context_processor
    def _sessions_of() -> dict:
        # The account page lists the person's live sessions (sessions/_sessions.html).
        return {"live_sso_sessions": overview.live_sessions}
