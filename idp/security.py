"""Security headers on every response, and the request size limit.

Every response gets a strict Content-Security-Policy (nothing but our own scripts, styles and
images; never framed), nosniff, no Referer, and HSTS when the issuer is https. A view may
relax the policy for one response:

- `allow_form_redirects(response)` for pages whose form submission ends, through redirects,
  at a relying party (the sign-in page: POST /login -> /oauth2/authorize -> redirect_uri).
  Chrome applies `form-action` to every redirect after a form submission, so `'self'` there
  would block the way back to the relying party.
- `allow_framing(response, origins)` for a page that embeds relying parties' pages in
  iframes (OpenID Connect Front-Channel Logout 1.0, section 4). The page itself still
  cannot be framed by anyone.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Largest request body accepted (413 beyond): forms and registration documents are small.
MAX_CONTENT_LENGTH_BYTES = 1024 * 1024
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600
CSP_HEADER = "Content-Security-Policy"


def content_security_policy(
    *, form_action: Iterable[str] | None = ("'self'",), frame_src: Iterable[str] = ()
) -> str:
    """The policy: `form_action=None` leaves form targets unrestricted (see module doc)."""
    directives = [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
    ]
    if form_action is not None:
        directives.append("form-action " + " ".join(form_action))
    frames = list(frame_src)
    if frames:
        directives.append("frame-src " + " ".join(frames))
    directives += ["frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]
    return "; ".join(directives)


DEFAULT_CSP = content_security_policy()


def allow_form_redirects(response: Response) -> Response:
    response.headers[CSP_HEADER] = content_security_policy(form_action=None)
    return response


def allow_framing(response: Response, origins: Iterable[str]) -> Response:
    """Let this page embed the given origins (scheme://host[:port]) in iframes."""
    response.headers[CSP_HEADER] = content_security_policy(frame_src=sorted(set(origins)))
    return response


FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_nul_byte() -> bool:
    """True when the path, the query or a form field of this request holds a NUL character.

    No legitimate value here contains one, and PostgreSQL refuses NUL in text: refusing the
    request up front keeps every endpoint from answering such input with a database error.
    """
    if "\x00" in request.path:
        return True
    values = list(request.args.items(multi=True))
    if request.method != "GET" and request.mimetype in FORM_MIMETYPES:
        values += request.form.items(multi=True)
    return any("\x00" in key or "\x00" in value for key, value in values)


def trust_proxies(app: Flask, count: int) -> None:
    """Behind `count` reverse proxies, take the client address from X-Forwarded-For.

    Only the address: the per-address sign-in throttle and the audit log need the person's
    address, not the proxy's. Without the setting the header is ignored, since anyone can
    send it.
    """
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count)  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH_BYTES
    trust_proxies(app, int(app.config.get("TRUSTED_PROXIES") or 0))

    @app.before_request
    def _refuse_nul_bytes() -> None:
        if has_nul_byte():
            abort(400)

    static_headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if app.config["ISSUER"].startswith("https://"):
        static_headers["Strict-Transport-Security"] = (
            f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains"
        )

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        for name, value in static_headers.items():
            if name not in headers:
                headers[name] = value
        if CSP_HEADER not in headers:
            headers[CSP_HEADER] = DEFAULT_CSP
        if response.mimetype == "text/html" and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response
