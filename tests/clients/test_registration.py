"""Dynamic client registration (RFC 7591) with initial access tokens.

Tests named oidcc_* follow the OpenID Foundation's Dynamic OP test plan modules that concern
registration; the others cover RFC 7591's errors and the initial access tokens.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers.clients import (
    assert_error,
    bearer,
    client_row,
    count_clients,
    initial_access_token,
)
from joserfc.jwk import RSAKey

from idp.clients import initial_access
from idp.clients.models import InitialAccessToken
from idp.extensions import db, utcnow

REGISTER = "/oauth2/register"
RP = {"redirect_uris": ["https://rp.example.org/cb"], "client_name": "Ứng dụng thử nghiệm"}


@pytest.fixture
def make_token(app):
    """Factory: make_token(uses=1, expires_in=3600) -> the plaintext initial access token."""

    def make(uses: int | None = 1, expires_in: int = 3600) -> str:
        return initial_access_token(app, uses=uses, expires_in=expires_in, note="test")

    return make


@pytest.fixture
def register(client, make_token):
    """POST metadata to the registration endpoint with a fresh one-use token."""

    def post(metadata, token: str | None = None, headers: dict | None = None):
        token = token or make_token()
        return client.post(REGISTER, json=metadata, headers={**bearer(token), **(headers or {})})

    return post


# ---- the OpenID Foundation's dynamic OP test plan


def test_oidcc_registration_dynamic(app, register):
    """OP-Registration-Dynamic (covered by oidcc-server): register and get the client back."""
    response = register(RP)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["redirect_uris"] == RP["redirect_uris"]
    assert body["client_name"] == RP["client_name"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]
    assert body["client_secret_expires_at"] == 0 and body["client_id_issued_at"] > 0
    assert body["registration_client_uri"] == f"http://idp.test{REGISTER}/{body['client_id']}"
    row = client_row(app, body["client_id"])
    assert row.source == "dynamic" and row.active and not row.first_party
    assert row.check_client_secret(body["client_secret"])
    # Secrets at rest are hashes only.
    assert row.client_secret_hash == hashlib.sha256(body["client_secret"].encode()).hexdigest()
    token_hash = hashlib.sha256(body["registration_access_token"].encode()).hexdigest()
    assert row.registration_token_hash == token_hash
    with app.app_context():
        values = [
            str(v) for r in db.session.execute(sa.text("SELECT * FROM oauth_clients")) for v in r
        ]
    assert not any(
        body["client_secret"] in v or body["registration_access_token"] in v for v in values
    )


def check_page_uri(app, register, field: str) -> None:
    """A page URL of the client is accepted, stored and returned; http is refused."""
    value = f"https://rp.example.org/{field}.html"
    body = register({**RP, field: value}).get_json()
    assert body[field] == value
    assert client_row(app, body["client_id"]).meta(field) == value
    bad = register({**RP, field: "http://rp.example.org/not-https"})
    assert "https" in assert_error(bad, 400, "invalid_client_metadata")["error_description"]


def test_oidcc_registration_logo_uri(app, register):
    check_page_uri(app, register, "logo_uri")


def test_oidcc_registration_policy_uri(app, register):
    check_page_uri(app, register, "policy_uri")


def test_oidcc_registration_tos_uri(app, register):
    check_page_uri(app, register, "tos_uri")


def test_oidcc_registration_jwks_uri(app, register):
    """oidcc-registration-jwks-uri: private_key_jwt with keys at a jwks_uri; no secret issued."""
    response = register(
        {
            **RP,
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://rp.example.org/jwks.json",
        }
    )
    assert response.status_code == 201
    body = response.get_json()
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["jwks_uri"] == "https://rp.example.org/jwks.json"
    assert client_row(app, body["client_id"]).client_secret_hash is None


def test_oidcc_registration_jwks(app, register):
    """OP-Registration-jwks (covered by oidcc-server): public keys by value."""
    key = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "use": "sig"})
    jwks = {"keys": [key.as_dict(private=False)]}
    body = register(
        {**RP, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}
    ).get_json()
    assert body["jwks"] == jwks
    private = register({**RP, "jwks": {"keys": [key.as_dict(private=True)]}})
    assert (
        "private key" in assert_error(private, 400, "invalid_client_metadata")["error_description"]
    )
    both = register({**RP, "jwks": jwks, "jwks_uri": "https://rp.example.org/jwks.json"})
    assert_error(both, 400, "invalid_client_metadata")


def test_oidcc_registration_sector_uri(app, register):
    """oidcc-registration-sector-uri: pairwise subjects are not offered (discovery lists only
    "public"), so a sector_identifier_uri is refused with invalid_client_metadata."""
    response = register(
        {**RP, "subject_type": "pairwise", "sector_identifier_uri": "https://rp.example.org/s.json"}
    )
    body = assert_error(response, 400, "invalid_client_metadata")
    assert "pairwise" in body["error_description"]
    assert count_clients(app) == 0


def test_oidcc_registration_sector_bad(app, register):
    """oidcc-registration-sector-bad: a sector document without our redirect URIs -> 400
    invalid_client_metadata (here refused earlier, as pairwise is not supported)."""
    response = register(
        {**RP, "subject_type": "pairwise", "sector_identifier_uri": "https://other.example/s.json"}
    )
    assert_error(response, 400, "invalid_client_metadata")
    assert_error(register({**RP, "subject_type": "pairwise"}), 400, "invalid_client_metadata")
    body = register({**RP, "subject_type": "public"}).get_json()
    assert body["subject_type"] == "public"


def test_oidcc_redirect_uri_regfrag(app, register):
    """oidcc-redirect-uri-regfrag: a redirect URI with a fragment is refused."""
    response = register({"redirect_uris": ["https://rp.example.org/cb#fragment"]})
    assert "fragment" in assert_error(response, 400, "invalid_redirect_uri")["error_description"]
    assert count_clients(app) == 0


# ---- redirect URI rules by kind of application (OIDC Registration 2, RFC 8252)


def test_native_app_registration(app, register):
    response = register(
        {
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [
                "vn.gov.haugiang.app:/oauth2redirect",
                "https://app.haugiang.gov.vn/oauth2redirect",
                "http://127.0.0.1/oauth2redirect",
            ],
            "grant_types": ["authorization_code", "refresh_token"],
        }
    )
    assert response.status_code == 201
    body = response.get_json()
    assert "client_secret" not in body
    row = client_row(app, body["client_id"])
    assert row.is_public and row.client_secret_hash is None
    # RFC 8252 7.3: any port on the loopback address.
    assert row.check_redirect_uri("http://127.0.0.1:53124/oauth2redirect")


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["vn.gov.haugiang.app:/cb"]}, "invalid_redirect_uri"),
        ({"application_type": "native", "redirect_uris": ["myapp:/cb"]}, "invalid_redirect_uri"),
        ({"application_type": "native", "redirect_uris": ["http://rp.example/cb"]},
         "invalid_redirect_uri"),
        ({"redirect_uris": ["http://rp.example.org/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://rp.example.org/cb"}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"client_name": "no redirect"}, "invalid_redirect_uri"),
        ({**RP, "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]},
         "invalid_client_metadata"),
    ],
)  # fmt: skip
def test_redirect_uri_rules(app, register, metadata, error):
    assert_error(register(metadata), 400, error)
    assert count_clients(app) == 0


def test_http_localhost_for_web_apps_in_development_only(app, register):
    # The test settings run in development.
    body = register({"redirect_uris": ["http://localhost:8101/auth/callback"]}).get_json()
    assert body["redirect_uris"] == ["http://localhost:8101/auth/callback"]


# ---- RFC 7591 errors (section 3.2.2)


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({**RP, "grant_types": ["implicit"]}, "grant_types"),
        ({**RP, "grant_types": ["password"]}, "grant_types"),
        ({**RP, "response_types": ["token"]}, "response_types"),
        ({**RP, "response_types": ["code id_token"]}, "response_types"),
        ({**RP, "token_endpoint_auth_method": "client_secret_jwt"}, "token_endpoint_auth_method"),
        ({**RP, "token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method"),
        ({**RP, "scope": "openid lgsp.write"}, "scope"),
        ({**RP, "allowed_audiences": ["https://lgsp.haugiang.gov.vn"]}, "allowed_audiences"),
        ({**RP, "id_token_signed_response_alg": "none"}, "id_token_signed_response_alg"),
        ({**RP, "id_token_encrypted_response_alg": "RSA-OAEP"}, "id_token_encrypted_response_alg"),
        ({**RP, "default_acr_values": ["LoA9"]}, "default_acr_values"),
        ({**RP, "contacts": "it@haugiang.gov.vn"}, "contacts"),
        ({**RP, "client_name": ["x"]}, "client_name"),
    ],
)
def test_invalid_client_metadata(app, register, metadata, field):
    body = assert_error(register(metadata), 400, "invalid_client_metadata")
    assert body["error_description"].startswith(field)
    assert count_clients(app) == 0


def test_unknown_fields_are_ignored(app, register):
    body = register({**RP, "favourite_colour": "blue", "software_statement": "e30.e30."}).get_json()
    assert "favourite_colour" not in body
    assert "favourite_colour" not in client_row(app, body["client_id"]).client_metadata


@pytest.mark.parametrize(
    "data",
    [b"{not json", b"", b"[]", b'"text"', b"null", b"\xff\xfe", b"1" * 70000],
)
def test_bad_json_body(app, client, make_token, data):
    token = make_token()
    response = client.post(
        REGISTER, data=data, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_client_metadata")
    # The failed attempt did not spend the token.
    assert client.post(REGISTER, json=RP, headers=bearer(token)).status_code == 201


def test_form_encoded_body_is_not_metadata(app, client, make_token):
    response = client.post(
        REGISTER, data={"redirect_uris": "https://rp.example.org/cb"}, headers=bearer(make_token())
    )
    assert_error(response, 400, "invalid_client_metadata")


def test_other_methods_are_not_allowed(client):
    response = client.get(REGISTER)
    assert response.status_code == 405 and response.mimetype == "application/json"


# ---- initial access tokens


def test_registration_without_an_initial_access_token_is_refused(app, client):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer"}):
        response = client.post(REGISTER, json=RP, headers=headers)
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert count_clients(app) == 0


def test_unknown_initial_access_token(app, client):
    assert_error(client.post(REGISTER, json=RP, headers=bearer("x" * 43)), 401, "invalid_token")
    assert_error(client.post(REGISTER, json=RP, headers=bearer("x" * 5000)), 401, "invalid_token")


def test_expired_initial_access_token(app, client, make_token):
    token = make_token(uses=5)
    with app.app_context():
        row = db.session.query(InitialAccessToken).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert_error(client.post(REGISTER, json=RP, headers=bearer(token)), 401, "invalid_token")
    assert count_clients(app) == 0


def test_uses_are_counted(app, client, make_token):
    token = make_token(uses=2)
    assert client.post(REGISTER, json=RP, headers=bearer(token)).status_code == 201
    # A refused registration costs nothing.
    bad = client.post(REGISTER, json={"redirect_uris": ["x#y"]}, headers=bearer(token))
    assert bad.status_code == 400
    assert client.post(REGISTER, json=RP, headers=bearer(token)).status_code == 201
    assert_error(client.post(REGISTER, json=RP, headers=bearer(token)), 401, "invalid_token")
    assert count_clients(app) == 2
    with app.app_context():
        row = db.session.query(InitialAccessToken).one()
        assert row.uses_left == 0 and initial_access.state(row) == "used"


def test_unlimited_token_until_it_expires(app, client, make_token):
    token = make_token(uses=None)
    for _ in range(3):
        assert client.post(REGISTER, json=RP, headers=bearer(token)).status_code == 201
    with app.app_context():
        assert db.session.query(InitialAccessToken).one().uses_left is None


def test_revoked_token_registers_nothing(app, client, make_token, runner):
    token = make_token(uses=5)
    with app.app_context():
        token_id = db.session.query(InitialAccessToken).one().id
    assert runner.invoke(args=["registration-token", "revoke", str(token_id)]).exit_code == 0
    assert_error(client.post(REGISTER, json=RP, headers=bearer(token)), 401, "invalid_token")


def test_one_use_token_under_concurrent_registrations(app, make_token):
    """A token with one use registers exactly one client, however many requests race."""
    token = make_token(uses=1)
    racers = 6
    barrier = threading.Barrier(racers)
    statuses: list[int] = []
    lock = threading.Lock()

    def race() -> None:
        http = app.test_client()
        barrier.wait()
        response = http.post(REGISTER, json=RP, headers=bearer(token))
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [401] * (racers - 1)
    assert count_clients(app) == 1


def test_spending_is_atomic_across_transactions(app, make_token, database_url):
    """Two transactions spend the last use at the same time: the second one waits for the
    first and then finds nothing left (PostgreSQL row lock; SQLite serialises writers)."""
    token = make_token(uses=1)
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    engine = sa.create_engine(database_url, connect_args=_connect_args(database_url))
    spend = sa.text(
        "UPDATE initial_access_tokens SET uses_left = uses_left - 1 "
        "WHERE token_hash = :h AND (uses_left IS NULL OR uses_left > 0)"
    )
    results: dict[str, int] = {}
    try:
        first = engine.connect()
        first_tx = first.begin()
        results["first"] = first.execute(spend, {"h": token_hash}).rowcount

        def second() -> None:
            with engine.begin() as conn:
                results["second"] = conn.execute(spend, {"h": token_hash}).rowcount

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second spender did not wait for the first"
        first_tx.commit()
        first.close()
        thread.join(timeout=30)
        assert results == {"first": 1, "second": 0}
    finally:
        engine.dispose()
    with app.app_context():
        assert db.session.query(InitialAccessToken).one().uses_left == 0


def _connect_args(url: str) -> dict:
    return {"timeout": 30} if url.startswith("sqlite") else {}


def test_registration_is_audited_without_secrets(app, register):
    from idp.audit import AuditEvent

    body = register(RP, headers={"User-Agent": "rp-tool/1.0"}).get_json()
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="client.register").one()
        assert event.subject == body["client_id"] and event.actor.startswith("registration-token:")
        assert event.user_agent == "rp-tool/1.0"
        assert body["client_secret"] not in json.dumps(event.detail)


def test_discovery_lists_the_registration_endpoint(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["registration_endpoint"] == "http://idp.test/oauth2/register"
    # What a client may register agrees with what discovery says is supported.
    assert metadata["subject_types_supported"] == ["public"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }


@pytest.mark.parametrize(
    "metadata",
    [
        {**RP, "contacts": ["it\u0000@rp.example.org"]},
        {**RP, "client_name": "Ứng dụng\u0000"},
        {**RP, "software_id": "x" * 100000},
        {**RP, "default_max_age": 1e308 * 10},
        {**RP, "jwks": {"keys": [{"kty": "RSA", "n": "\u0000", "e": "AQAB"}]}},
        {**RP, "redirect_uris": ["https://h\u1eadugiang.example/cb\u0000"]},
        {**RP, "grant_types": [["authorization_code"]]},
        {**RP, "token_endpoint_auth_method": {"a": 1}},
        {**RP, "application_type": None, "scope": None},
    ],
)
def test_hostile_metadata_never_breaks_the_endpoint(app, register, metadata):
    response = register(metadata)
    assert response.status_code in (201, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.get_json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")


def test_deeply_nested_json_is_invalid_metadata(app, client, make_token):
    body = b"[" * 50000 + b"]" * 50000
    response = client.post(
        REGISTER,
        data=body[:60000],
        headers={**bearer(make_token()), "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_client_metadata")
    nested = '{"redirect_uris": ' + "[" * 20000 + "]" * 20000 + "}"
    response = client.post(
        REGISTER, data=nested, headers={**bearer(make_token()), "Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_client_metadata")
