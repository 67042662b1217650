"""SSO sessions: the cookie, the server-side record and (later) the logout fan-out."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from idp.sessions.models import SsoSession
from idp.sessions.store import find_session, session_lifetime

SSO_COOKIE = "idp_sso"


def current_session() -> SsoSession | None:
    """The live SSO session of this request's browser, looked up once per request."""
    if "sso" not in g:
        g.sso = find_session(request.cookies.get(SSO_COOKIE))
    return g.sso


def set_session_cookie(response: Response, handle: str, remember: bool) -> None:
    secure = current_app.config["ISSUER"].startswith("https://")
    response.set_cookie(
        SSO_COOKIE,
        handle,
        max_age=int(session_lifetime(remember).total_seconds()) if remember else None,
        httponly=True,
        secure=secure,
        samesite="Lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    secure = current_app.config["ISSUER"].startswith("https://")
    response.delete_cookie(SSO_COOKIE, path="/", httponly=True, secure=secure, samesite="Lax")


def init_app(app: Flask) -> None:
    from idp.sessions import models  # noqa: F401  (tables known to migrations)
