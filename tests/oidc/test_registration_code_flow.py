"""Dynamically registered clients sign people in: registration, then the code flow end to end.

The relying party is tests/helpers/oidc_flow.py's, which talks to the provider over HTTP only.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers.clients import initial_access_token, register_client
from helpers.oidc_flow import ISSUER, REDIRECT_URI, RelyingParty, pkce_pair, query_of
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

REGISTER = "/oauth2/register"


@pytest.fixture
def app_config():
    # A client's jwks_uri served on 127.0.0.1, which the provider (issuer http://idp.test)
    # may call only with this.
    return {"OUTBOUND_ALLOW_PRIVATE_TARGETS": True}


@pytest.fixture
def iat(app):
    return initial_access_token(app, uses=5)


def test_oidcc_registration_dynamic_code_flow(app, client, make_user, iat):
    """oidcc-server with a dynamic client: register, sign in (with consent, since a
    self-registered client is a third party), exchange the code, validate, refresh."""
    make_user()
    registered = register_client(
        client,
        iat,
        client_name="Hệ thống đặt lịch khám bệnh",
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile email",
        logo_uri="https://rp.example/logo.png",
    )
    rp = RelyingParty(client, registered["client_id"], registered["client_secret"])
    response = rp.sign_in_through(
        rp.authorize(scope="openid profile email", state="s1", nonce="n1", **_pkce(rp))
    )
    page = response.get_data(as_text=True)
    assert "Hệ thống đặt lịch khám bệnh" in page and 'name="consent_action"' in page
    location = rp.consent(response).headers["Location"]
    values = query_of(location)
    assert location.startswith(REDIRECT_URI) and values["state"] == "s1"
    assert values["iss"] == ISSUER
    tokens = rp.exchange_code(values["code"], rp.verifier)
    claims = rp.validate_id_token(
        tokens["id_token"], nonce="n1", access_token=tokens["access_token"]
    )
    assert claims["aud"] == registered["client_id"]
    userinfo = rp.userinfo(tokens["access_token"]).get_json()
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == "nguyen.van.an@haugiang.gov.vn"
    refreshed = rp.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["refresh_token"] != tokens["refresh_token"]


def test_dynamic_public_native_client_must_use_pkce(app, client, make_user, iat):
    make_user()
    registered = register_client(
        client,
        iat,
        application_type="native",
        token_endpoint_auth_method="none",
        redirect_uris=[REDIRECT_URI, "vn.gov.haugiang.app:/oauth2redirect"],
        grant_types=["authorization_code", "refresh_token"],
        scope="openid profile offline_access",
    )
    assert "client_secret" not in registered
    rp = RelyingParty(client, registered["client_id"], secret=None)
    rp.login()
    without_pkce = rp.authorize(state="s", nonce="n")
    assert without_pkce.status_code == 302
    error = query_of(without_pkce.headers["Location"])
    assert error["error"] == "invalid_request" and error["state"] == "s"
    flow = rp.code_flow(pkce=True, scope="openid profile offline_access")
    response = rp.exchange(flow)
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()
    rp.validate_id_token(tokens["id_token"], nonce=flow.nonce)
    assert rp.refresh(tokens["refresh_token"]).status_code == 200


def test_deleted_or_disabled_dynamic_client_gets_no_tokens(app, client, make_user, iat, runner):
    make_user()
    first = register_client(client, iat, grant_types=["authorization_code", "refresh_token"])
    second = register_client(client, iat)
    rp = RelyingParty(client, first["client_id"], first["client_secret"])
    tokens = rp.tokens(pkce=True)
    management = {"Authorization": f"Bearer {first['registration_access_token']}"}
    assert client.delete(f"{REGISTER}/{first['client_id']}", headers=management).status_code == 204
    assert rp.refresh(tokens["refresh_token"]).status_code == 401
    # Introspection by a resource server of its audience sees the deleted client's access
    # token as inactive.
    result = runner.invoke(
        args=[
            "clients",
            "create",
            "--client-id",
            "api",
            "--grant-type",
            "client_credentials",
            "--scope",
            "api.read",
            "--resource-server-audience",
            first["client_id"],
            "--json",
        ]  # fmt: skip
    )
    api_secret = json.loads(result.stdout)["client_secret"]
    assert rp.introspect(tokens["access_token"], "api", api_secret).get_json() == {"active": False}

    assert runner.invoke(args=["clients", "disable", second["client_id"]]).exit_code == 0
    disabled = RelyingParty(client, second["client_id"], second["client_secret"])
    page = disabled.authorize(**_pkce(disabled))
    assert page.status_code == 400 and "Location" not in page.headers


QUERY_REDIRECT_URI = "https://rp.example/callback?foo=bar"


@pytest.fixture
def query_rp(app, client, make_user, iat) -> RelyingParty:
    """A dynamically registered client whose redirect URI has a query, signed in."""
    make_user()
    registered = register_client(client, iat, redirect_uris=[QUERY_REDIRECT_URI])
    assert registered["redirect_uris"] == [QUERY_REDIRECT_URI]
    rp = RelyingParty(client, registered["client_id"], registered["client_secret"])
    rp.login()
    return rp


def test_oidcc_redirect_uri_query_ok(query_rp):
    """The registered query stays on the redirect and the code flow completes."""
    flow = query_rp.code_flow(pkce=True, redirect_uri=QUERY_REDIRECT_URI)
    assert flow.params["foo"] == "bar" and flow.params["state"] == "af0ifjsldkj"
    response = query_rp.exchange(flow, redirect_uri=QUERY_REDIRECT_URI)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example/callback?foo=baz",  # oidcc-redirect-uri-query-mismatch
        "https://rp.example/callback?foo=bar&foo2=bar2",  # oidcc-redirect-uri-query-added
        "https://rp.example/callback",
    ],
)
def test_oidcc_redirect_uri_query_mismatch_and_added(query_rp, redirect_uri):
    """A redirect URI that differs from the registered one in its query is never used: the
    person sees an error page and nothing is sent to that URI."""
    response = query_rp.authorize(
        redirect_uri=redirect_uri, state="s", nonce="n", **_pkce(query_rp)
    )
    assert response.status_code == 400 and "Location" not in response.headers


class _JwksServer:
    """The client's jwks_uri, served on the loopback interface (allowed in development)."""

    def __init__(self, keys: KeySet) -> None:
        body = json.dumps(keys.as_dict(private=False)).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/jwks.json"

    def __enter__(self) -> _JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_oidcc_registration_jwks_uri_code_flow(app, client, make_user, iat):
    """oidcc-registration-jwks-uri: register private_key_jwt with a jwks_uri, then
    authenticate at the token endpoint with an assertion signed by that key."""
    make_user()
    key = RSAKey.generate_key(2048, parameters={"kid": "rp-2026", "use": "sig"})
    with _JwksServer(KeySet([key])) as jwks:
        registered = register_client(
            client, iat, token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks.url
        )
        client_id = registered["client_id"]
        assert "client_secret" not in registered
        rp = RelyingParty(client, client_id, secret=None)
        flow = rp.code_flow(pkce=True)
        now = int(time.time())
        assertion = jwt.encode(
            {"alg": "RS256", "kid": "rp-2026"},
            {
                "iss": client_id,
                "sub": client_id,
                "aud": ISSUER + "/oauth2/token",
                "jti": uuid.uuid4().hex,
                "iat": now,
                "exp": now + 60,
            },
            key,
        )
        response = client.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": flow.code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": flow.verifier,
                "client_id": client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )
    assert response.status_code == 200, response.get_json()
    rp.validate_id_token(response.get_json()["id_token"], nonce=flow.nonce)


def _pkce(rp: RelyingParty) -> dict[str, str]:
    rp.verifier, challenge = pkce_pair()
    return {"code_challenge": challenge, "code_challenge_method": "S256"}
