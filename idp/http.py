"""Per-request plumbing kept cheap: machine endpoints serve thousands of requests a second.

Flask's cookie session builds a signing serializer on every request, even when no cookie
came; the session is only needed by forms (CSRF tokens), so it is opened lazily.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.cookies.get(self.get_cookie_name(app)):
            # Same result as the parent's for a request without a session cookie.
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = LazyCookieSessionInterface()
