"""Domain exceptions and the one place that turns errors into responses.

People get a readable page in their language; API clients get JSON. Nothing ever shows a
stack trace, and unexpected exceptions are logged with their detail and answered generically.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from idp.extensions import db

log = logging.getLogger("idp.errors")


class IdpError(Exception):
    """Base of our domain exceptions."""


class NotFound(IdpError):
    pass


class Conflict(IdpError):
    pass


class ValidationFailed(IdpError):
    pass


# Paths whose callers are programs, not people: errors there are JSON.
API_PREFIXES = ("/oauth2/", "/api/", "/.well-known/", "/healthz", "/readyz", "/jwks", "/connect/")


# Parts of the site whose errors take a form of their own (the admin API's RFC 9457 problem
# objects): path prefix -> function(exception) -> response, registered by `own_errors`. The
# part's blueprint handles errors raised in its views; this also reaches the errors raised
# before any view is found (an unknown path: 404, a method not allowed: 405).
OWN_ERRORS_KEY = "idp.errors.own"


def own_errors(app: Flask, prefix: str, handler) -> None:
    """Answer every error under `prefix` with `handler(exception)`."""
    app.extensions.setdefault(OWN_ERRORS_KEY, {})[prefix] = handler


def _own_handler(app: Flask):
    for prefix, handler in app.extensions.get(OWN_ERRORS_KEY, {}).items():
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return handler
    return None


def wants_json() -> bool:
    if request.path.startswith(API_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (
            _("Yêu cầu không hợp lệ"),
            _("Yêu cầu gửi đến không đúng định dạng hoặc thiếu thông tin."),
        ),
        403: (_("Không được phép"), _("Bạn không có quyền truy cập trang này.")),
        404: (_("Không tìm thấy trang"), _("Địa chỉ bạn mở không tồn tại.")),
        405: (_("Phương thức không được hỗ trợ"), _("Trang này không nhận loại yêu cầu đó.")),
        413: (_("Dữ liệu quá lớn"), _("Dữ liệu gửi lên vượt quá giới hạn cho phép.")),
        429: (_("Quá nhiều yêu cầu"), _("Vui lòng đợi một lát rồi thử lại.")),
        500: (_("Đã xảy ra lỗi"), _("Hệ thống gặp sự cố. Vui lòng thử lại sau.")),
        503: (
            _("Tạm thời không phục vụ"),
            _("Hệ thống đang bận hoặc bảo trì. Vui lòng thử lại sau."),
        ),
    }


def render_error(
    status: int,
    title: str | None = None,
    message: str | None = None,
    retry_url: str | None = None,
):
    if wants_json():
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(
            status, "server_error" if status >= 500 else "error"
        )
        return {"error": code, "error_description": message or ""}, status
    default_title, default_message = _messages().get(
        status, _messages()[500 if status >= 500 else 400]
    )
    return (
        render_template(
            # A part of the site may frame its refusals (the console keeps its menu); a
            # server error gets the plain page, which needs nothing that may have failed.
            g.get("error_template", "errors/error.html") if status < 500 else "errors/error.html",
            status=status,
            title=title or default_title,
            message=message or default_message,
            retry_url=retry_url,
        ),
        status,
    )


def page_of_form() -> str:
    """The page of ours the refused form was on (a same-origin Referer), else this path.

    Only a path on this site is returned, never another host: "//host" and backslashes,
    which browsers read as another host, fall back to the request's own path.
    """
    referrer = urlsplit(request.referrer or "")
    own = urlsplit(request.host_url)
    path = referrer.path
    if (referrer.scheme, referrer.netloc) != (own.scheme, own.netloc) or not path.startswith("/"):
        return request.path
    if path.startswith("//") or "\\" in path or not path.isprintable():
        return request.path
    return path + (f"?{referrer.query}" if referrer.query else "")


def csrf_refused():
    """The page for a form whose CSRF token is missing, altered, or older than
    CSRF_TIME_LIMIT_SECONDS: a fresh form is a click away."""
    return render_error(
        400,
        _("Phiên biểu mẫu đã hết hạn"),
        _("Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại."),
        retry_url=page_of_form(),
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return csrf_refused()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        own = _own_handler(app)
        if own is not None:
            return own(exc)
        return render_error(exc.code)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        log.error("unhandled exception on %s %s", request.method, request.path, exc_info=exc)
        try:
            db.session.rollback()
        except Exception:  # the session may itself be broken
            log.debug("rollback after error failed", exc_info=True)
        own = _own_handler(app)
        if own is not None:
            return own(InternalServerError())
        return render_error(InternalServerError.code)
