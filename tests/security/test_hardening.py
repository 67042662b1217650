"""Hardening found while attacking the provider (issue 8, finding 10).

- Only our ID tokens are an `id_token_hint`: an access token (`typ: at+jwt`), a logout token
  (`logout+jwt`), a signed userinfo response, a token of another issuer or an ID token of
  another client is refused, at the authorization endpoint and at end_session.
- In production the key that encrypts private signing keys at rest is its own setting,
  never the secret key that signs cookies.
- With an https issuer every cookie is a `__Host-` cookie (Secure, Path=/, no Domain), so
  no other host of the province's domain and no plain-http page can plant or overwrite one.
"""

from __future__ import annotations

import pytest
from helpers.clients import make_client
from helpers.logout_flow import POST_LOGOUT, end_session, set_metadata, signed_in
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.pages import csrf_token

from idp import create_app
from idp.settings import SettingsError

NONCE = "n-0S6_WzA2Mj"


# ---------------------------------------------------------------- id_token_hint


@pytest.fixture
def hints(app, rp):
    """A signed-in browser at webmail, and tokens of ours that are not webmail's ID tokens."""
    from idp.clients.models import Client
    from idp.extensions import db
    from idp.keys.ring import sign_jwt
    from idp.sessions.delivery import DeliverySettings, mint_logout_token

    set_metadata(app, "webmail", post_logout_redirect_uris=[POST_LOGOUT])
    make_client(
        app,
        "portal",
        userinfo_signed_response_alg="RS256",
        post_logout_redirect_uris=[POST_LOGOUT],
    )
    tokens = rp.tokens()
    id_claims = rp.validate_id_token(tokens["id_token"], nonce=NONCE)
    portal = RelyingParty(rp.http, "portal").tokens()
    signed_userinfo = rp.userinfo(portal["access_token"])
    assert signed_userinfo.mimetype == "application/jwt"
    with app.app_context():
        webmail = db.session.execute(db.select(Client).filter_by(client_id="webmail")).scalar_one()
        logout_token = mint_logout_token(
            webmail,
            sub=id_claims["sub"],
            sid=id_claims.get("sid"),
            settings=DeliverySettings.from_config(app.config),
        )
        other_issuer = sign_jwt({**id_claims, "iss": "https://evil.example"})
    return {
        "id_token": tokens["id_token"],
        "access token (at+jwt)": tokens["access_token"],
        "logout token (logout+jwt)": logout_token,
        "signed userinfo response": signed_userinfo.get_data(as_text=True),
        "ID token of another issuer": other_issuer,
        "ID token of another client": portal["id_token"],
    }


FOREIGN = [
    "access token (at+jwt)",
    "logout token (logout+jwt)",
    "signed userinfo response",
    "ID token of another issuer",
    "ID token of another client",
]


@pytest.mark.parametrize("kind", FOREIGN)
def test_only_our_id_tokens_for_the_client_are_hints_at_authorization(rp, hints, kind):
    response = rp.authorize(prompt="none", id_token_hint=hints[kind], nonce="n2", state="s2")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT_URI)
    values = query_of(response.headers["Location"])
    assert values.get("error") == "invalid_request" and "code" not in values, values
    assert values["state"] == "s2"


def test_our_id_token_is_a_hint_at_authorization_even_expired(app, rp, hints):
    values = query_of(rp.authorize(prompt="none", id_token_hint=hints["id_token"]).location)
    assert "code" in values, values
    claims = rp.validate_id_token(hints["id_token"], nonce=NONCE)
    with app.app_context():
        from idp.keys.ring import sign_jwt

        expired = sign_jwt({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600})
    values = query_of(rp.authorize(prompt="none", id_token_hint=expired).location)
    assert "code" in values, values


@pytest.mark.parametrize("kind", FOREIGN[:-1])
def test_only_our_id_tokens_are_hints_at_end_session(rp, hints, kind):
    response = end_session(rp.http, id_token_hint=hints[kind], post_logout_redirect_uri=POST_LOGOUT)
    assert response.status_code == 400 and "Location" not in response.headers
    assert signed_in(rp.http)


def test_an_access_token_with_client_id_is_no_hint_at_end_session(rp, hints):
    response = end_session(
        rp.http, id_token_hint=hints["access token (at+jwt)"], client_id="webmail"
    )
    assert response.status_code == 400 and signed_in(rp.http)


# ---------------------------------------------------------------- the key-encryption key

PRODUCTION = {
    "ENV": "production",
    "ISSUER": "https://sso.haugiang.gov.vn",
    "SECRET_KEY": "production-secret-key-" + "s" * 40,
    "DATABASE_URL": "sqlite://",
}


@pytest.mark.parametrize(
    "kek",
    [
        None,
        "",
        PRODUCTION["SECRET_KEY"],
        "short-key",
    ],
    ids=["missing", "empty", "equal to the secret key", "short"],
)
def test_production_refuses_to_start_without_its_own_key_encryption_key(monkeypatch, kek):
    monkeypatch.delenv("IDP_KEY_ENCRYPTION_KEY", raising=False)
    settings = dict(PRODUCTION)
    if kek is not None:
        settings["KEY_ENCRYPTION_KEY"] = kek
    with pytest.raises(SettingsError) as caught:
        create_app(settings)
    message = str(caught.value)
    assert "IDP_KEY_ENCRYPTION_KEY" in message and "\n" not in message


def test_production_command_line_refuses_in_one_line(monkeypatch):
    from click.testing import CliRunner

    from idp.cli import main

    for name, value in PRODUCTION.items():
        monkeypatch.setenv(f"IDP_{name}", value)
    monkeypatch.setenv("IDP_KEY_ENCRYPTION_KEY", PRODUCTION["SECRET_KEY"])
    result = CliRunner().invoke(main, ["keys", "list"])
    assert result.exit_code == 2
    assert "IDP_KEY_ENCRYPTION_KEY" in result.output


def test_production_encrypts_signing_keys_with_the_key_encryption_key(monkeypatch, sqlite_url):
    from idp.extensions import db
    from idp.keys import crypto
    from idp.keys.models import SigningKey
    from idp.keys.ring import ensure_keys

    monkeypatch.delenv("IDP_KEY_ENCRYPTION_KEY", raising=False)
    kek = "key-encryption-key-" + "k" * 40
    app = create_app({**PRODUCTION, "DATABASE_URL": sqlite_url, "KEY_ENCRYPTION_KEY": kek})
    with app.app_context():
        ensure_keys()
        row = db.session.execute(db.select(SigningKey)).scalars().first()
        assert crypto.decrypt(kek, row.private_encrypted, row.kid.encode())
        with pytest.raises(crypto.KeyDecryptionError):
            crypto.decrypt(PRODUCTION["SECRET_KEY"], row.private_encrypted, row.kid.encode())
        db.session.remove()
        db.engine.dispose()


def test_keys_stored_under_the_secret_key_move_to_the_key_encryption_key(monkeypatch, sqlite_url):
    """A database made with the development fallback (keys under SECRET_KEY) is carried
    over to production with `idp keys reencrypt`, the old key read from the environment."""
    from idp.keys import ring

    monkeypatch.delenv("IDP_KEY_ENCRYPTION_KEY", raising=False)
    development = create_app({**PRODUCTION, "ENV": "development", "DATABASE_URL": sqlite_url})
    with development.app_context():
        ring.invalidate_cache()
        before = ring.sign_jwt({"sub": "x"})
        from idp.extensions import db

        db.engine.dispose()
    kek = "key-encryption-key-" + "k" * 40
    production = create_app({**PRODUCTION, "DATABASE_URL": sqlite_url, "KEY_ENCRYPTION_KEY": kek})
    runner = production.test_cli_runner()
    monkeypatch.delenv("OLD_KEY", raising=False)
    assert runner.invoke(args=["keys", "reencrypt", "--previous-key-env", "OLD_KEY"]).exit_code
    monkeypatch.setenv("OLD_KEY", "not the key it was")
    failed = runner.invoke(args=["keys", "reencrypt", "--previous-key-env", "OLD_KEY"])
    assert failed.exit_code == 1 and "opens neither" in failed.output
    monkeypatch.setenv("OLD_KEY", PRODUCTION["SECRET_KEY"])
    done = runner.invoke(args=["keys", "reencrypt", "--previous-key-env", "OLD_KEY"])
    assert done.exit_code == 0 and "4 private key(s) re-encrypted" in done.output, done.output
    again = runner.invoke(args=["keys", "reencrypt", "--previous-key-env", "OLD_KEY"])
    assert "0 private key(s)" in again.output
    with production.app_context():
        ring.invalidate_cache()
        ring.verify_jwt(before)
        ring.verify_jwt(ring.sign_jwt({"sub": "y"}))
        from idp.extensions import db

        db.engine.dispose()


# ---------------------------------------------------------------- __Host- cookies

HTTPS = {"ISSUER": "https://sso.haugiang.gov.vn"}
SITE = HTTPS["ISSUER"]


def set_cookies(response) -> dict[str, list[str]]:
    """{cookie name: its lower-cased attributes}, for every Set-Cookie of the response."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        found[name] = [a.strip().lower() for a in rest.split(";")[1:]]
    return found


def csrf(response) -> str:
    return csrf_token(response.text)


@pytest.mark.parametrize("app_config", [HTTPS])
def test_https_issuer_sets_only_host_prefixed_cookies(app, client, make_user, app_config):
    make_user()
    make_client(app, post_logout_redirect_uris=[POST_LOGOUT])
    make_client(app, "third-party", first_party=False)
    seen: dict[str, list[str]] = {}
    headers = {"Referer": f"{SITE}/login"}

    def visit(response):
        seen.update(set_cookies(response))
        return response

    page = visit(client.get("/login", base_url=SITE))
    visit(
        client.post(
            "/login",
            base_url=SITE,
            headers=headers,
            data={
                "email": "nguyen.van.an@haugiang.gov.vn",
                "password": "Mật-khẩu-đủ-dài-2026",
                "csrf_token": csrf(page),
            },
        )
    )
    visit(client.get("/lang/en", base_url=SITE))
    assert visit(client.get("/account/", base_url=SITE)).status_code == 200
    params = {"response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid"}
    hop = visit(
        client.get(
            "/oauth2/authorize", base_url=SITE, query_string={**params, "client_id": "webmail"}
        )
    )
    assert "code=" in hop.headers["Location"]
    visit(
        client.get(
            "/oauth2/authorize", base_url=SITE, query_string={**params, "client_id": "third-party"}
        )
    )
    logout_page = visit(client.get("/logout", base_url=SITE))
    visit(
        client.post(
            "/logout",
            base_url=SITE,
            headers={"Referer": f"{SITE}/logout"},
            data={"csrf_token": csrf(logout_page)},
        )
    )
    assert {"__Host-idp_ui", "__Host-idp_sso", "__Host-idp_lang"} <= set(seen), seen
    for name, attributes in seen.items():
        assert name.startswith("__Host-"), name
        assert "secure" in attributes and "path=/" in attributes, (name, attributes)
        assert not any(a.startswith("domain=") for a in attributes), (name, attributes)
        assert "httponly" in attributes and "samesite=lax" in attributes, (name, attributes)


@pytest.mark.parametrize("app_config", [HTTPS])
def test_https_issuer_ignores_unprefixed_cookies(app, client, make_user, app_config):
    """A cookie planted without the prefix (by another host of the domain, or over http)
    is not read: the session cookie cannot be fixed or tossed that way."""
    make_user()
    page = client.get("/login", base_url=SITE)
    client.post(
        "/login",
        base_url=SITE,
        headers={"Referer": f"{SITE}/login"},
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": "Mật-khẩu-đủ-dài-2026",
            "csrf_token": csrf(page),
        },
    )
    handle = client.get_cookie("__Host-idp_sso", domain="sso.haugiang.gov.vn")
    assert handle is not None
    other = app.test_client()
    other.set_cookie("idp_sso", handle.value, domain="sso.haugiang.gov.vn")
    assert other.get("/account/", base_url=SITE).status_code == 302
    other.set_cookie("__Host-idp_sso", handle.value, domain="sso.haugiang.gov.vn")
    assert other.get("/account/", base_url=SITE).status_code == 200


def test_http_issuer_keeps_plain_cookie_names(app, client, auth, make_user):
    """Browsers refuse __Host- cookies without Secure, so development on http keeps the
    plain names."""
    make_user()
    names = set(set_cookies(client.get("/login")))
    names |= set(set_cookies(auth.login())) | set(set_cookies(client.get("/lang/en")))
    assert {"idp_ui", "idp_sso", "idp_lang"} <= names
    assert client.get("/account/").status_code == 200


def test_cookie_names_come_from_one_place(app):
    from idp.security import cookie_name

    assert cookie_name(app, "idp_device") == "idp_device"
    https = create_app({**PRODUCTION, "KEY_ENCRYPTION_KEY": "k" * 48})
    assert cookie_name(https, "idp_device") == "__Host-idp_device"
    assert https.config["SESSION_COOKIE_NAME"] == "__Host-idp_ui"
