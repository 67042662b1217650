"""The token endpoint: client authentication, client credentials, and every bad input
answered with the right OAuth error code and status (RFC 6749 5.2), never a 500."""

from __future__ import annotations

import base64

import pytest
from helpers.clients import make_client, make_machine_client
from helpers.oidc_flow import REDIRECT_URI, SECRET, RelyingParty, basic

TOKEN = "/oauth2/token"


def error_of(response, status: int = 400) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    return response.get_json()["error"]


@pytest.fixture
def machine(app, rp):
    make_machine_client(
        app,
        "lgsp",
        "lgsp.read lgsp.write openid",
        allowed_audiences=["https://lgsp.haugiang.gov.vn", "https://api.haugiang.gov.vn"],
    )
    return rp


# ---- client credentials


def test_client_credentials_token_is_a_jwt_for_the_client(machine, client):
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic("lgsp"))
    assert response.status_code == 200
    assert (
        response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    )
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert "refresh_token" not in body and "id_token" not in body
    # The user scopes mean nothing without a user; the client's own scopes are all granted.
    assert body["scope"] == "lgsp.read lgsp.write"
    claims = machine.access_token_claims(body["access_token"])
    assert claims["sub"] == "lgsp" and claims["client_id"] == "lgsp"
    assert claims["aud"] == ["https://lgsp.haugiang.gov.vn", "https://api.haugiang.gov.vn"]
    assert {"iss", "exp", "iat", "jti"} <= set(claims) and "gid" not in claims


def test_client_credentials_scope_and_audience_are_limited(machine, client):
    def ask(**data):
        return client.post(
            TOKEN, data={"grant_type": "client_credentials", **data}, headers=basic("lgsp")
        )

    narrowed = ask(scope="lgsp.read", resource="https://api.haugiang.gov.vn").get_json()
    assert narrowed["scope"] == "lgsp.read"
    assert machine.access_token_claims(narrowed["access_token"])["aud"] == (
        "https://api.haugiang.gov.vn"
    )
    assert error_of(ask(scope="lgsp.read admin")) == "invalid_scope"
    assert error_of(ask(scope="openid")) == "invalid_scope"
    assert error_of(ask(resource="https://elsewhere.example")) == "invalid_target"


def test_client_credentials_needs_the_grant_and_a_confidential_client(app, rp, client):
    response = client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic("webmail")
    )
    assert error_of(response) == "unauthorized_client"
    make_client(app, "mobile", auth_method="none", secret=None, grant_types=["client_credentials"])
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "mobile"})
    assert error_of(response, 401) == "invalid_client"


# ---- client authentication


def test_wrong_secret_with_basic_is_401_with_a_basic_challenge(rp, client):
    response = client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic("webmail", "wrong")
    )
    assert error_of(response, 401) == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"webmail").decode()},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic " + base64.b64encode(b"nobody:" + SECRET.encode()).decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
    ],
    ids=["none", "not-base64", "no-secret", "bearer", "unknown-client", "not-utf8"],
)
def test_missing_or_broken_client_authentication(rp, client, headers):
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=headers)
    assert error_of(response, 401) == "invalid_client"


def test_secret_post_client_cannot_use_basic_and_vice_versa(app, rp, client):
    make_client(app, "portal", auth_method="client_secret_post")
    response = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": "x"}, headers=basic("portal")
    )
    assert error_of(response, 401) == "invalid_client"
    response = client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": "webmail",
            "client_secret": SECRET,
        },
    )
    assert error_of(response, 401) == "invalid_client"


def test_disabled_client_cannot_get_tokens(app, rp):
    from idp.clients.models import Client
    from idp.extensions import db

    # A resource server of webmail's tokens (their `aud` is webmail's client_id).
    make_machine_client(app, "api", "api.read", resource_server_audiences=["webmail"])
    body = rp.tokens(scope="openid offline_access")
    assert rp.introspect(body["access_token"], "api").get_json()["active"] is True
    with app.app_context():
        db.session.query(Client).filter_by(client_id="webmail").update({"active": False})
        db.session.commit()
    assert error_of(rp.refresh(body["refresh_token"]), 401) == "invalid_client"
    assert rp.introspect(body["access_token"], "api").get_json()["active"] is False
    assert rp.userinfo(body["access_token"]).status_code == 401


# ---- bad input


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": ""}, "invalid_request"),
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "nope"}, "invalid_grant"),
        ({"grant_type": "authorization_code", "code": "x" * 5000}, "invalid_grant"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, "unsupported_grant_type"),
    ],
)
def test_bad_token_requests(rp, client, data, error):
    assert error_of(client.post(TOKEN, data=data, headers=basic("webmail"))) == error


def test_repeated_parameters_are_invalid_request(rp, client):
    response = client.post(
        TOKEN,
        data="grant_type=client_credentials&grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        headers=basic("webmail"),
    )
    assert error_of(response) == "invalid_request"
    flow = rp.code_flow()
    response = client.post(
        TOKEN,
        data=f"grant_type=authorization_code&code={flow.code}&code=other"
        f"&redirect_uri={REDIRECT_URI}",
        content_type="application/x-www-form-urlencoded",
        headers=basic("webmail"),
    )
    assert error_of(response) == "invalid_request"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"grant_type": "client_credentials"}', "application/json"),
        ("[1, 2, 3", "application/json"),
        ("\xff\xfe garbage", "application/x-www-form-urlencoded"),
        ("", "text/plain"),
    ],
)
def test_bodies_that_are_not_forms(rp, client, body, content_type):
    response = client.post(TOKEN, data=body, content_type=content_type, headers=basic("webmail"))
    assert error_of(response) == "invalid_request"


def test_oversized_body_is_refused_without_a_500(rp, client):
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "x": "a" * 2_000_000},
        headers=basic("webmail"),
    )
    assert response.status_code == 413 and response.mimetype == "application/json"


def test_get_is_not_allowed(client):
    assert client.get(TOKEN + "?grant_type=client_credentials").status_code == 405


def test_code_exchange_with_public_client_needs_its_client_id(app, rp, client):
    make_client(app, "mobile", auth_method="none", secret=None)
    mobile = RelyingParty(rp.http, "mobile", secret=None)
    flow = mobile.code_flow(pkce=True)
    response = client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": flow.code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.verifier,
        },
    )
    assert error_of(response, 401) == "invalid_client"
    assert mobile.exchange(flow).status_code == 200
