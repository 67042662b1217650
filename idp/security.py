"""Security headers on every response, the request size limit, and our cookies.

Every response gets a strict Content-Security-Policy (nothing but our own scripts, styles and
images; never framed), nosniff, no Referer, and HSTS when the issuer is https. A view may
relax the policy for one response:

- `allow_form_redirects(response)` for pages whose form submission ends, through redirects,
  at a relying party (the sign-in page: POST /login -> /oauth2/authorize -> redirect_uri).
  Chrome applies `form-action` to every redirect after a form submission, so `'self'` there
  would block the way back to the relying party.
- `allow_form_target(response, uri)` for a page whose form posts to one URI of another
  origin (the form_post response): `form-action` names that origin only.
- `allow_framing(response, origins)` for a page that embeds relying parties' pages in
  iframes (OpenID Connect Front-Channel Logout 1.0, section 4). The page itself still
  cannot be framed by anyone.

Cookies: every cookie the server sets goes through `set_cookie` / `delete_cookie` and is
read with `read_cookie`, by its base name ("idp_sso"); `cookie_name` decides the name on
the wire (`__Host-idp_sso` behind an https issuer). Flask's own page-session cookie is
configured here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

# Largest request body accepted (413 beyond): forms and registration documents are small.
MAX_CONTENT_LENGTH_BYTES = 1024 * 1024
HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600
CSP_HEADER = "Content-Security-Policy"
HOST_COOKIE_PREFIX = "__Host-"
# Flask's signed page session (the CSRF secret lives in it).
PAGE_SESSION_COOKIE = "idp_ui"


def content_security_policy(
    *,
    form_action: Iterable[str] | None = ("'self'",),
    frame_src: Iterable[str] = (),
    img_src: Iterable[str] = (),
) -> str:
    """The policy: `form_action=None` leaves form targets unrestricted (see module doc)."""
    directives = [
        "default-src 'self'",
        " ".join(["img-src 'self' data:", *img_src]),
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


def allow_form_redirects(response: Response, img_src: Iterable[str] = ()) -> Response:
    """Let this page's form end, through redirects, at a relying party; `img_src` adds
    image origins (a relying party's registered logo)."""
    response.headers[CSP_HEADER] = content_security_policy(
        form_action=None, img_src=sorted(set(img_src))
    )
    return response


def allow_form_target(response: Response, uri: str) -> Response:
    """Let this page's form post to the origin of `uri` (an http(s) URI) and nowhere else."""
    response.headers[CSP_HEADER] = content_security_policy(form_action=[csp_source(uri)])
    return response


def csp_source(uri: str) -> str:
    """The CSP source expression for the origin of an http(s) URI: scheme://host[:port].

    CSP's host-source grammar has no IPv6 literals (CSP Level 3, 2.3.1), and Chromium
    drops such a source: an IPv6 host can only be allowed by its scheme.
    """
    parts = urlsplit(uri)
    if parts.hostname is None or ":" in parts.hostname:
        return f"{parts.scheme}:"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def allow_framing(response: Response, origins: Iterable[str]) -> Response:
    """Let this page embed the given origins (scheme://host[:port]) in iframes."""
    response.headers[CSP_HEADER] = content_security_policy(frame_src=sorted(set(origins)))
    return response


def has_nul_byte() -> bool:
    """True when the path, the query or a form field of this request holds a NUL character.

    No legitimate value here contains one, and PostgreSQL refuses NUL in text: refusing the
    request up front keeps every endpoint from answering such input with a database error.
    The query string and URL-encoded bodies are scanned as bytes, before any parsing: a NUL
    can only be there as "%00" or as the byte itself.
    """
    if "\x00" in request.path:
        return True
    query = request.environ.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        return True
    if request.method == "GET":
        return False
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded" and "form" not in request.__dict__:
        # Read (and kept) once; the form is then parsed from these bytes.
        body = request.get_data(cache=True)
        return b"%00" in body or b"\x00" in body
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return any(
            "\x00" in key or "\x00" in value for key, value in request.form.items(multi=True)
        )
    return False


def trust_proxies(app: Flask, count: int) -> None:
    """Behind `count` reverse proxies, take the client address from X-Forwarded-For and the
    scheme from X-Forwarded-Proto.

    The per-address sign-in throttle and the audit log need the person's address, not the
    proxy's; Authlib refuses protocol requests whose URL is not https, and behind a proxy
    that ends TLS the URL is https only by the proxy's word. Without the setting both
    headers are ignored, since anyone can send them. X-Forwarded-Host is never trusted.
    """
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


class SecurityHeaders:
    """WSGI middleware adding the security headers to every response a view did not set.

    Done on the list of header pairs handed to start_response: several times cheaper than
    an after_request hook setting them one by one on werkzeug's Headers, and it also covers
    responses made outside Flask's dispatch (idp.http's static documents).
    """

    def __init__(self, wsgi_app, headers: list[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self.headers = headers
        self.names = [name.lower() for name, _value in headers]

    def __call__(self, environ, start_response):
        def add_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _value in headers}
            for lower, pair in zip(self.names, self.headers, strict=True):
                if lower not in present:
                    headers.append(pair)
            if "cache-control" not in present:
                for name, value in headers:
                    if name.lower() == "content-type":
                        if value.startswith("text/html"):
                            headers.append(("Cache-Control", "no-store"))
                        break
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, add_headers)


def response_headers(issuer: str) -> list[tuple[str, str]]:
    """The headers every response carries unless its view set its own value."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        (CSP_HEADER, DEFAULT_CSP),
    ]
    if issuer.startswith("https://"):
        headers.append(
            ("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains")
        )
    return headers


# ---------------------------------------------------------------- cookies


def cookie_name(app: Flask, base: str) -> str:
    """The name on the wire of our cookie `base`: `__Host-<base>` when the issuer is https.

    A browser keeps a `__Host-` cookie only if it is Secure, has Path=/ and no Domain
    (RFC 6265bis 4.1.3.2), so no other host of the province's domain (a unit's site, a
    subdomain taken over) and no plain-http response can set or overwrite it: no session
    fixation or cookie tossing (OWASP ASVS 4.0 3.4.4). A plain-http issuer
    (development) cannot have such cookies, so there the base name is used.
    """
    if app.config["ISSUER"].startswith("https://"):
        return HOST_COOKIE_PREFIX + base
    return base


def read_cookie(base: str) -> str | None:
    """This request's value of our cookie `base` (under its name for this issuer only)."""
    return request.cookies.get(cookie_name(current_app, base))


def set_cookie(response: Response, base: str, value: str, *, max_age: int | None = None) -> None:
    """Set our cookie `base`: HttpOnly, SameSite=Lax, Path=/, no Domain, Secure on https.

    `max_age` None makes a browser-session cookie.
    """
    secure = current_app.config["ISSUER"].startswith("https://")
    response.set_cookie(
        cookie_name(current_app, base),
        value,
        max_age=max_age,
        path="/",
        domain=None,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def delete_cookie(response: Response, base: str) -> None:
    secure = current_app.config["ISSUER"].startswith("https://")
    response.delete_cookie(
        cookie_name(current_app, base),
        path="/",
        domain=None,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def configure_page_session_cookie(app: Flask) -> None:
    """Flask's session cookie, with the same attributes as ours (IDP_SESSION_COOKIE_*
    environment variables cannot loosen them: they are set here, after the settings)."""
    app.config.update(
        SESSION_COOKIE_NAME=cookie_name(app, PAGE_SESSION_COOKIE),
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["ISSUER"].startswith("https://"),
    )


def init_app(app: Flask) -> None:
    configure_page_session_cookie(app)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH_BYTES
    trust_proxies(app, int(app.config.get("TRUSTED_PROXIES") or 0))

    def _refuse_nul_bytes() -> None:
        if has_nul_byte():
            abort(400)

    # First of the before_request hooks, ahead of the CSRF check, which parses the form.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_nul_bytes)

    app.wsgi_app = SecurityHeaders(  # type: ignore[method-assign]
        app.wsgi_app, response_headers(app.config["ISSUER"])
    )


def hash_secret(secret: str) -> str:
    """The stored form of a high-entropy secret we generated (client secrets, tokens, codes).

    SHA-256 suffices here: these secrets carry 256 bits of randomness, so nothing can be
    guessed from the hash, and the token endpoint checks it thousands of times a second.
    Passwords, chosen by people, are hashed with argon2id instead.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
