"""Modules of the oidcc-dynamic-certification-test-plan that do not depend on registering the
client dynamically (those live in tests/clients/test_registration*.py and
test_registration_code_flow.py): signed responses, redirect URIs with queries, key rotation
on both sides, and private_key_jwt client authentication."""

from __future__ import annotations

import base64
import json

import pytest
from helpers.clients import make_client, make_machine_client
from helpers.clock import shift_utcnow
from helpers.oidc_flow import ASSERTION_TYPE, ISSUER, REDIRECT_URI, RelyingParty, query_of
from joserfc import jwt

NONCE = "n-0S6_WzA2Mj"


@pytest.fixture
def app_config():
    # The relying parties' jwks_uri are served on 127.0.0.1, which the provider (issuer
    # http://idp.test) may call only with this.
    return {"OUTBOUND_ALLOW_PRIVATE_TARGETS": True}


def _header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_oidcc_idtoken_rs256(app, rp, alg):
    """oidcc-idtoken-rs256, and ES256 for clients that registered it."""
    make_client(app, "docs", id_token_signed_response_alg=alg)
    docs = RelyingParty(rp.http, "docs")
    body = docs.tokens()
    assert _header(body["id_token"])["alg"] == alg
    docs.validate_id_token(
        body["id_token"], nonce=NONCE, access_token=body["access_token"], alg=alg
    )


def test_oidcc_userinfo_rs256(app, rp):
    make_client(app, "docs", userinfo_signed_response_alg="RS256")
    docs = RelyingParty(rp.http, "docs")
    body = docs.tokens(scope="openid email")
    response = docs.userinfo(body["access_token"])
    assert response.status_code == 200 and response.mimetype == "application/jwt"
    signed = response.get_data(as_text=True)
    assert _header(signed)["alg"] == "RS256"
    claims = jwt.decode(signed, docs.jwks(), algorithms=["RS256"]).claims
    assert claims["iss"] == ISSUER and claims["aud"] == "docs" and "email" in claims


def test_oidcc_ensure_redirect_uri_in_authorization_request(app, rp):
    make_client(app, "two", redirect_uris=[REDIRECT_URI, "https://rp.example/other"])
    rp.login()
    response = RelyingParty(rp.http, "two").authorize(redirect_uri=None)
    assert response.status_code == 400 and "Location" not in response.headers


REGISTERED_WITH_QUERY = "https://rp.example/cb?foo=bar"


def test_oidcc_redirect_uri_query_ok(app, rp):
    make_client(app, "q", redirect_uris=[REGISTERED_WITH_QUERY])
    rp.login()
    response = RelyingParty(rp.http, "q").authorize(redirect_uri=REGISTERED_WITH_QUERY, state="x")
    location = response.headers["Location"]
    assert location.startswith(REGISTERED_WITH_QUERY + "&")
    values = query_of(location)
    assert values["foo"] == "bar" and values["state"] == "x" and "code" in values


@pytest.mark.parametrize(
    "asked",
    [
        "https://rp.example/cb?foo=baz",
        "https://rp.example/cb?foo=bar&added=1",
        "https://rp.example/cb",
    ],
)
def test_oidcc_redirect_uri_query_mismatch_and_added(app, rp, asked):
    """oidcc-redirect-uri-query-mismatch and oidcc-redirect-uri-query-added."""
    make_client(app, "q", redirect_uris=[REGISTERED_WITH_QUERY])
    rp.login()
    response = RelyingParty(rp.http, "q").authorize(redirect_uri=asked)
    assert response.status_code == 400 and "Location" not in response.headers


def test_oidcc_server_rotate_keys(app, rp):
    from idp.extensions import db
    from idp.keys import ring

    before = rp.tokens()
    with app.app_context():
        ring.rotate("RS256", force=True)
        db.session.commit()
    after = rp.tokens()
    assert _header(after["id_token"])["kid"] != _header(before["id_token"])["kid"]
    # The JWKS a relying party fetches now validates both: the old key is retired, not gone.
    rp.validate_id_token(before["id_token"], nonce=NONCE)
    rp.validate_id_token(after["id_token"], nonce=NONCE)


def _assert_auth(keys, client_id, **claims):
    return {
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": keys.assertion(client_id, **claims),
    }


def test_oidcc_refresh_token_rp_key_rotation(app, rp, client_keys, monkeypatch):
    from idp.oidc import client_keys as key_cache

    make_client(
        app,
        "lgsp-rp",
        secret=None,
        auth_method="private_key_jwt",
        jwks_uri=client_keys.uri,
    )
    party = RelyingParty(rp.http, "lgsp-rp", secret=None)
    flow = party.code_flow()
    exchanged = rp.http.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": flow.code,
            "redirect_uri": REDIRECT_URI,
            **_assert_auth(client_keys, "lgsp-rp"),
        },
    )
    assert exchanged.status_code == 200, exchanged.get_data(as_text=True)
    body = exchanged.get_json()
    party.validate_id_token(body["id_token"], nonce=NONCE)
    client_keys.rotate()
    # An unknown kid refetches the jwks_uri once CLIENT_JWKS_RETRY_SECONDS have passed
    # since the last fetch.
    shift_utcnow(monkeypatch, key_cache, 60)
    refreshed = rp.http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            **_assert_auth(client_keys, "lgsp-rp"),
        },
    )
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)


def _cc(http, keys, client_id="machine", **claims):
    return http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **_assert_auth(keys, client_id, **claims)},
    )


@pytest.fixture
def machine(app, client_keys):
    make_machine_client(
        app,
        "machine",
        "lgsp.read",
        secret=None,
        auth_method="private_key_jwt",
        jwks_uri=client_keys.uri,
    )
    return client_keys


def test_oidcc_ensure_client_assertion_with_iss_aud_succeeds(client, machine):
    response = _cc(client, machine, aud=ISSUER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["scope"] == "lgsp.read"


def test_private_key_jwt_with_inline_jwks(app, client, client_keys):
    make_machine_client(
        app,
        "inline",
        "lgsp.read",
        secret=None,
        auth_method="private_key_jwt",
        jwks=client_keys.public_jwks(),
    )
    assert _cc(client, client_keys, "inline").status_code == 200


def test_private_key_jwt_assertion_is_accepted_once(client, machine):
    assertion = machine.assertion("machine")
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    assert client.post("/oauth2/token", data=data).status_code == 200
    replay = client.post("/oauth2/token", data=data)
    assert replay.status_code in (400, 401) and replay.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://elsewhere.example/token"},
        {"exp": 1_000_000_000},
        {"iss": "someone-else"},
        {"exp": 4_000_000_000},  # valid far too long: its jti would have to be kept for ever
    ],
    ids=["wrong-aud", "expired", "iss-not-sub", "too-long"],
)
def test_private_key_jwt_bad_assertions_are_invalid_client(client, machine, claims):
    response = _cc(client, machine, **claims)
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_private_key_jwt_signed_by_an_unknown_key(client, machine):
    from helpers.oidc_flow import ClientKeys

    stranger = ClientKeys()
    try:
        response = _cc(client, stranger)
    finally:
        stranger.close()
    assert response.get_json()["error"] == "invalid_client"


def test_private_key_jwt_garbage_and_unsigned(client, machine):
    for assertion in ("not-a-jwt", "e30.e30.", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWNoaW5lIn0."):
        response = client.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        assert response.status_code in (400, 401), assertion
        assert response.get_json()["error"] == "invalid_client"
