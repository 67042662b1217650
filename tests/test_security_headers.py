"""Security headers on every response, and cookie attributes, over http and https issuers."""

from __future__ import annotations

import pytest
from helpers.pages import csrf_token

HTTPS = {"ISSUER": "https://sso.haugiang.gov.vn"}


def _csp(response) -> dict[str, str]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def _responses(client, auth):
    return {
        "login page": client.get("/login"),
        "sign-in failure": auth.login(password="wrong-password-123"),
        "signed-out page": client.get("/logged-out"),
        "redirect": client.get("/account/"),
        "healthz JSON": client.get("/healthz"),
        "readyz JSON": client.get("/readyz"),
        "404 page": client.get("/no/such/page"),
        "404 JSON": client.get("/api/no-such-thing"),
        "405 page": client.delete("/login"),
        "400 CSRF page": client.post("/login", data={}),
        "static file": client.get("/static/style.css"),
    }


def test_every_response_carries_the_security_headers(client, auth, make_user):
    make_user()
    for what, response in _responses(client, auth).items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", what
        assert headers["Referrer-Policy"] == "same-origin", what
        assert headers["X-Frame-Options"] == "DENY", what
        csp = _csp(response)
        assert csp["frame-ancestors"] == "'none'", what
        assert csp["default-src"] == "'self'", what
        assert csp["object-src"] == "'none'", what
        assert csp["base-uri"] == "'none'", what
        # No inline script or style anywhere: the pages need no JavaScript at all.
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"], what
        assert "Strict-Transport-Security" not in headers, what


@pytest.mark.parametrize(
    "app_config, expected", [({}, None), (HTTPS, "max-age=31536000; includeSubDomains")]
)
def test_hsts_only_when_the_issuer_is_https(sqlite_app, expected):
    client = sqlite_app.test_client()
    for path in ("/login", "/healthz", "/nowhere", "/static/style.css"):
        assert client.get(path).headers.get("Strict-Transport-Security") == expected, path


def test_pages_are_not_cached(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    assert client.get("/nowhere").headers["Cache-Control"] == "no-store"


def test_error_pages_carry_the_headers_for_unexpected_errors(sqlite_app):
    @sqlite_app.get("/_test/boom")
    def boom():
        raise RuntimeError("boom")

    response = sqlite_app.test_client().get("/_test/boom")
    assert response.status_code == 500
    assert _csp(response)["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _cookies(response) -> dict[str, set[str]]:
    """{cookie name: its lower-cased attributes ("httponly", "samesite=lax", ...)}."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        found[name] = {a.strip().lower() for a in rest.split(";")[1:]}
    return found


@pytest.mark.parametrize("app_config", [HTTPS])
def test_cookies_are_httponly_lax_and_secure_behind_https(client, make_user, app_config):
    make_user()
    seen: dict[str, set[str]] = {}
    # Behind the TLS proxy the requests arrive as https, and the browser sends a same-origin
    # Referer with the form (Flask-WTF checks it on https).
    site = "https://sso.haugiang.gov.vn"
    page = client.get("/login", base_url=site)
    seen.update(_cookies(page))
    token = csrf_token(page.get_data(as_text=True))
    signed_in = client.post(
        "/login",
        base_url=site,
        headers={"Referer": f"{site}/login"},
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": "Mật-khẩu-đủ-dài-2026",
            "csrf_token": token,
        },
    )
    assert signed_in.status_code == 302
    seen.update(_cookies(signed_in))
    seen.update(_cookies(client.get("/lang/en", base_url=site)))
    # __Host- cookies (idp.security.cookie_name; tests/security/test_hardening.py).
    assert set(seen) == {"__Host-idp_ui", "__Host-idp_sso", "__Host-idp_lang", "__Host-idp_device"}
    for name, attributes in seen.items():
        assert "httponly" in attributes, name
        assert "secure" in attributes, name
        assert "samesite=lax" in attributes, name


def test_cookies_are_not_secure_on_a_plain_http_issuer(client, auth, make_user):
    make_user()
    cookies = _cookies(auth.login())
    cookies.update(_cookies(client.get("/lang/en")))
    assert {"idp_sso", "idp_lang", "idp_device"} <= set(cookies)
    for name, attributes in cookies.items():
        assert "secure" not in attributes, name
        assert "httponly" in attributes and "samesite=lax" in attributes, name


def test_forms_post_only_to_ourselves_except_on_the_sign_in_page(client):
    assert _csp(client.get("/logged-out"))["form-action"] == "'self'"
    assert _csp(client.get("/nowhere"))["form-action"] == "'self'"
    # Sign-in ends at the relying party through redirects, which Chrome checks against
    # form-action (tests/browser covers it); everything else stays as strict.
    login = _csp(client.get("/login"))
    assert "form-action" not in login
    assert login["frame-ancestors"] == "'none'" and login["script-src"] == "'self'"


def test_a_page_may_embed_relying_parties_for_front_channel_logout(sqlite_app):
    from flask import make_response

    from idp.security import allow_framing

    @sqlite_app.get("/_test/frames")
    def frames():
        return allow_framing(make_response("<p>ok</p>"), ["https://mail.haugiang.gov.vn"] * 2)

    response = sqlite_app.test_client().get("/_test/frames")
    csp = _csp(response)
    assert csp["frame-src"] == "https://mail.haugiang.gov.vn"
    assert csp["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_request_bodies_are_limited_to_one_mebibyte(sqlite_app):
    assert sqlite_app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


@pytest.mark.parametrize(
    "app_config, seen", [({}, "127.0.0.1"), ({"TRUSTED_PROXIES": 1}, "203.0.113.5")]
)
def test_client_address_behind_a_trusted_proxy(app, client, auth, make_user, app_config, seen):
    """Throttling and the audit log see the person's address only when the proxy is trusted."""
    from idp.audit import AuditEvent
    from idp.extensions import db

    make_user()
    token = auth.csrf_token()
    client.post(
        "/login",
        data={"email": "nguyen.van.an@haugiang.gov.vn", "password": "wrong", "csrf_token": token},
        headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.5"},
    )
    with app.app_context():
        (event,) = db.session.query(AuditEvent).filter_by(action="login").all()
        assert event.ip == seen
        from idp.sessions.models import LoginThrottle

        assert db.session.get(LoginThrottle, f"ip:{seen}") is not None
