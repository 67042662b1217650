"""Security headers on every response.

Pages may relax framing for a single response with `allow_framing(response, origins)`:
front-channel logout needs its iframes (OpenID Connect Front-Channel Logout 1.0).
"""

from __future__ import annotations

from flask import Flask, Response

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    hsts = app.config["ISSUER"].startswith("https://")
    # form_post responses post to the relying party's redirect URI; views that need it set
    # their own CSP. The default allows forms only to ourselves.
    csp = DEFAULT_CSP.format(form_action="").replace("'self' ;", "'self';")
    static_headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if hsts:
        static_headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        for name, value in static_headers.items():
            if name not in headers:
                headers[name] = value
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = csp
        if response.mimetype == "text/html" and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response
