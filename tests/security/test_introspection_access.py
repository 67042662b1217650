"""Who may introspect (RFC 7662 2.1, 4) and revoke (RFC 7009 2.1) which token.

The attack: a client registered dynamically (any holder of an initial access token)
introspected webmail's refresh token and learned `active`, `sub` and `scope`. Now a client
sees its own tokens, a resource server sees the access tokens whose `aud` names it, and
every other question gets `{"active": false}`, the answer an unknown token gets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.clients import (
    bearer,
    initial_access_token,
    make_client,
    make_machine_client,
    register_client,
)
from helpers.oidc_flow import REDIRECT_URI, SECRET, RelyingParty, basic

ROOT = Path(__file__).resolve().parents[2]
INACTIVE = {"active": False}
API = "https://api.haugiang.gov.vn"


def register_dynamic_client(app, http) -> RelyingParty:
    """A confidential client registered by anyone holding an initial access token."""
    token = initial_access_token(app)
    body = register_client(http, token, client_name="Cổng thông tin giả mạo")
    return RelyingParty(http, body["client_id"], body["client_secret"])


def introspect(http, token: str, client_id: str, secret: str = SECRET, **extra) -> dict:
    response = http.post(
        "/oauth2/introspect", data={"token": token, **extra}, headers=basic(client_id, secret)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def client_credentials(http, client_id: str, secret: str = SECRET, **extra) -> str:
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **extra},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


# ---------------------------------------------------------------- introspection


def test_a_dynamic_client_cannot_introspect_webmails_tokens(app, rp):
    """The reproduced attack, for the refresh token and the access token alike."""
    tokens = rp.tokens(scope="openid offline_access")
    attacker = register_dynamic_client(app, rp.http)
    for token in (tokens["refresh_token"], tokens["access_token"]):
        for hint in (None, "refresh_token", "access_token"):
            extra = {"token_type_hint": hint} if hint else {}
            assert (
                introspect(rp.http, token, attacker.client_id, attacker.secret, **extra) == INACTIVE
            )
    # The same answer as for a token that never existed: nothing to tell them apart.
    assert introspect(rp.http, "never-issued", attacker.client_id, attacker.secret) == INACTIVE
    # The tokens are alive all the same, for their own client.
    assert introspect(rp.http, tokens["refresh_token"], "webmail")["active"] is True
    assert introspect(rp.http, tokens["access_token"], "webmail")["active"] is True


def test_a_refresh_token_is_introspected_by_its_own_client_only(app, rp):
    # "resource" is a first-party machine client; "api" is even the resource server of
    # webmail's own audience (its client_id): neither is the refresh token's client.
    make_machine_client(app, "api", "api.read", resource_server_audiences=["webmail"])
    tokens = rp.tokens(scope="openid offline_access")
    info = introspect(rp.http, tokens["refresh_token"], "webmail")
    assert info["active"] is True and info["client_id"] == "webmail" and info["sub"]
    assert introspect(rp.http, tokens["refresh_token"], "resource") == INACTIVE
    assert introspect(rp.http, tokens["refresh_token"], "api") == INACTIVE
    # The access token names webmail as its audience: the resource server sees it.
    assert introspect(rp.http, tokens["access_token"], "api")["active"] is True


def test_a_resource_server_sees_access_tokens_for_its_audience_only(app, rp):
    make_client(app, "portal", allowed_audiences=[API])
    make_machine_client(app, "api", "api.read", resource_server_audiences=[API])
    make_machine_client(
        app, "other-api", "api.read", resource_server_audiences=["https://other.haugiang.gov.vn"]
    )
    tokens = RelyingParty(rp.http, "portal").tokens(scope="openid offline_access")
    info = introspect(rp.http, tokens["access_token"], "api")
    assert info["active"] is True and info["aud"] == API and info["client_id"] == "portal"
    assert introspect(rp.http, tokens["access_token"], "portal")["active"] is True
    for stranger in ("other-api", "resource", "webmail"):
        assert introspect(rp.http, tokens["access_token"], stranger) == INACTIVE
    # A resource server never sees the refresh token: it is never presented to one.
    assert introspect(rp.http, tokens["refresh_token"], "api") == INACTIVE


def test_a_client_named_in_aud_is_its_resource_server(app, rp):
    """RFC 9068 3: `aud` may be the client_id of the resource server."""
    make_client(app, "portal", allowed_audiences=["resource"])
    tokens = RelyingParty(rp.http, "portal").tokens()
    assert introspect(rp.http, tokens["access_token"], "resource")["active"] is True
    assert introspect(rp.http, tokens["access_token"], "webmail") == INACTIVE


def test_resource_server_audiences_are_for_administrators_only(app, rp):
    response = rp.http.post(
        "/oauth2/register",
        json={"redirect_uris": [REDIRECT_URI], "resource_server_audiences": ["webmail"]},
        headers=bearer(initial_access_token(app)),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert "resource_server_audiences" in response.get_json()["error_description"]


# ---------------------------------------------------------------- the province's LGSP


@pytest.fixture
def province(app, runner, monkeypatch, make_user):
    """The province's own manifests for LGSP, the reporting system and webmail."""
    make_user()
    for name in ("LGSP", "BAOCAO_KTXH", "WEBMAIL"):
        monkeypatch.setenv(f"RP_{name}_CLIENT_SECRET", SECRET)
    for name in ("RP_LGSP_URL", "RP_BAOCAO_KTXH_URL", "RP_WEBMAIL_URL"):
        monkeypatch.delenv(name, raising=False)
    for manifest in ("lgsp.toml", "bao-cao-kinh-te-xa-hoi.toml", "webmail.toml"):
        path = str(ROOT / "clients" / manifest)
        result = runner.invoke(args=["clients", "apply", path, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["summary"]["error"] == 0, result.output


LGSP = "http://127.0.0.1:8109"
BAOCAO_API = "http://127.0.0.1:8108/api"


def test_lgsp_machine_to_machine(app, client, province):
    """LGSP gets a token for the reporting system's API; the API introspects it."""
    for_api = client_credentials(client, "lgsp", resource=BAOCAO_API)
    info = introspect(client, for_api, "baocao-ktxh")
    assert info["active"] is True and info["client_id"] == "lgsp" and info["aud"] == BAOCAO_API
    assert introspect(client, for_api, "lgsp")["active"] is True  # its own token
    assert introspect(client, for_api, "webmail") == INACTIVE

    # A token for LGSP's own services: LGSP, as their resource server, sees it; the
    # reporting system, not its audience, does not.
    for_lgsp = client_credentials(client, "lgsp", resource=LGSP)
    assert introspect(client, for_lgsp, "lgsp")["aud"] == LGSP
    assert introspect(client, for_lgsp, "baocao-ktxh") == INACTIVE


def test_lgsp_cannot_read_a_persons_tokens_of_webmail(app, client, province):
    webmail = RelyingParty(client, "webmail")
    flow = webmail.code_flow(redirect_uri="http://127.0.0.1:8101/auth/callback")
    response = webmail.exchange(flow, redirect_uri="http://127.0.0.1:8101/auth/callback")
    tokens = response.get_json()
    assert "refresh_token" in tokens, tokens
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(client, token, "lgsp") == INACTIVE
        assert introspect(client, token, "baocao-ktxh") == INACTIVE
        assert introspect(client, token, "webmail")["active"] is True


# ---------------------------------------------------------------- revocation


def test_revocation_only_by_the_client_the_token_was_issued_to(app, rp):
    """RFC 7009 2.1: the server checks that the token was issued to the requesting client;
    a resource server of the token's audience may introspect it, not revoke it."""
    make_machine_client(app, "api", "api.read", resource_server_audiences=["webmail"])
    tokens = rp.tokens(scope="openid offline_access")
    attacker = register_dynamic_client(app, rp.http)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        for other in (attacker, RelyingParty(rp.http, "api"), RelyingParty(rp.http, "resource")):
            response = other.revoke(token)
            assert response.status_code == 400, response.get_data(as_text=True)
            assert response.get_json()["error"] == "invalid_grant"
        assert introspect(rp.http, token, "webmail")["active"] is True
    assert rp.revoke(tokens["access_token"]).status_code == 200
    assert introspect(rp.http, tokens["access_token"], "webmail") == INACTIVE
