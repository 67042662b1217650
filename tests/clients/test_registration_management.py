"""Dynamic client registration management (RFC 7592): read, update, delete."""

from __future__ import annotations

import pytest
from helpers.clients import assert_error, bearer, client_row, initial_access_token

from idp.extensions import db

REGISTER = "/oauth2/register"
RP = {
    "redirect_uris": ["https://rp.example.org/cb"],
    "client_name": "Hệ thống đặt lịch khám",
    "logo_uri": "https://rp.example.org/logo.png",
    "contacts": ["it@rp.example.org"],
}


@pytest.fixture
def registered(app, client) -> dict:
    """A dynamically registered client: the registration response."""
    token = initial_access_token(app, uses=5)
    response = client.post(REGISTER, json=RP, headers=bearer(token))
    assert response.status_code == 201
    body = response.get_json()
    body["path"] = body["registration_client_uri"].removeprefix("http://idp.test")
    return body


def update_body(registered: dict, **changes) -> dict:
    """The client's metadata as a client would send it back in an update (RFC 7592 2.2)."""
    body = {
        k: v
        for k, v in registered.items()
        if k
        not in {
            "registration_access_token",
            "registration_client_uri",
            "client_secret_expires_at",
            "client_id_issued_at",
            "client_secret",
            "path",
        }
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_read(app, client, registered):
    response = client.get(
        registered["path"], headers=bearer(registered["registration_access_token"])
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["client_id"] == registered["client_id"]
    assert body["redirect_uris"] == RP["redirect_uris"] and body["logo_uri"] == RP["logo_uri"]
    assert body["registration_client_uri"] == registered["registration_client_uri"]
    assert body["registration_access_token"] == registered["registration_access_token"]
    assert body["client_id_issued_at"] == registered["client_id_issued_at"]
    assert "client_secret" not in body  # stored only as a hash: cannot be shown again


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_wrong_or_absent_registration_token_is_401(app, client, registered, method):
    path = registered["path"]
    call = getattr(client, method)
    kwargs = {"json": update_body(registered)} if method == "put" else {}
    for headers in (
        {},
        bearer("wrong-token"),
        {"Authorization": "Basic " + "eA=="},
        bearer(registered["client_secret"]),  # the client secret is not the registration token
    ):
        response = call(path, headers=headers, **kwargs)
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert (
        client_row(app, registered["client_id"]).client_metadata["client_name"] == RP["client_name"]
    )


def test_token_of_another_client_is_401(app, client, registered):
    token = initial_access_token(app)
    other = client.post(REGISTER, json=RP, headers=bearer(token)).get_json()
    response = client.get(registered["path"], headers=bearer(other["registration_access_token"]))
    assert_error(response, 401, "invalid_token")


def test_unknown_client_is_401_like_a_wrong_token(app, client, registered):
    response = client.get(
        f"{REGISTER}/no-such-client", headers=bearer(registered["registration_access_token"])
    )
    assert_error(response, 401, "invalid_token")


def test_clients_registered_by_administrators_cannot_be_managed(app, client, runner):
    result = runner.invoke(
        args=[
            "clients",
            "create",
            "--client-id",
            "webmail",
            "--redirect-uri",
            "https://m.example/cb",
        ]
    )
    assert result.exit_code == 0
    for token in ("", "anything"):
        assert_error(client.get(f"{REGISTER}/webmail", headers=bearer(token)), 401, "invalid_token")


def test_update_replaces_the_metadata(app, client, registered):
    token = registered["registration_access_token"]
    body = update_body(
        registered,
        redirect_uris=["https://rp.example.org/cb", "https://rp.example.org/cb2"],
        client_name="Hệ thống đặt lịch khám bệnh",
        logo_uri=None,  # omitted: RFC 7592 2.2 says it is removed
    )
    response = client.put(registered["path"], json=body, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["redirect_uris"] == body["redirect_uris"]
    assert result["client_name"] == "Hệ thống đặt lịch khám bệnh"
    assert "logo_uri" not in result
    assert result["registration_access_token"] == token
    row = client_row(app, registered["client_id"])
    assert "logo_uri" not in row.client_metadata
    assert row.check_client_secret(registered["client_secret"])  # the secret is unchanged


def test_update_with_the_current_secret(app, client, registered):
    token = registered["registration_access_token"]
    good = update_body(registered, client_secret=registered["client_secret"], client_name="Mới")
    assert client.put(registered["path"], json=good, headers=bearer(token)).status_code == 200
    bad = update_body(registered, client_secret="not-the-secret")
    assert_error(
        client.put(registered["path"], json=bad, headers=bearer(token)), 400, "invalid_request"
    )


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"client_id": None}, 400, "invalid_request"),
        ({"client_id": "someone-else"}, 400, "invalid_request"),
        ({"registration_access_token": "x"}, 400, "invalid_request"),
        ({"client_id_issued_at": 1}, 400, "invalid_request"),
        ({"redirect_uris": ["https://rp.example.org/cb#frag"]}, 400, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://rp.example.org/cb"]}, 400, "invalid_redirect_uri"),
        ({"grant_types": ["implicit"]}, 400, "invalid_client_metadata"),
        ({"scope": "openid admin"}, 400, "invalid_client_metadata"),
        ({"allowed_audiences": ["https://lgsp.haugiang.gov.vn"]}, 400, "invalid_client_metadata"),
        ({"subject_type": "pairwise"}, 400, "invalid_client_metadata"),
    ],
)
def test_bad_updates_change_nothing(app, client, registered, changes, status, error):
    before = client_row(app, registered["client_id"])
    body = update_body(registered, **changes)
    response = client.put(
        registered["path"], json=body, headers=bearer(registered["registration_access_token"])
    )
    assert_error(response, status, error)
    after = client_row(app, registered["client_id"])
    assert after.client_metadata == before.client_metadata
    assert after.client_secret_hash == before.client_secret_hash


@pytest.mark.parametrize("data", [b"{bad", b"[]", b""])
def test_update_with_a_bad_body(app, client, registered, data):
    response = client.put(
        registered["path"],
        data=data,
        headers={
            **bearer(registered["registration_access_token"]),
            "Content-Type": "application/json",
        },
    )
    assert_error(response, 400, "invalid_client_metadata")


def test_update_to_a_public_client_and_back(app, client, registered):
    token = registered["registration_access_token"]
    public = update_body(registered, token_endpoint_auth_method="none")
    response = client.put(registered["path"], json=public, headers=bearer(token))
    assert response.status_code == 200 and "client_secret" not in response.get_json()
    assert client_row(app, registered["client_id"]).client_secret_hash is None
    back = update_body(registered, token_endpoint_auth_method="client_secret_post")
    response = client.put(registered["path"], json=back, headers=bearer(token))
    assert response.status_code == 200
    secret = response.get_json()["client_secret"]  # a new secret, returned once
    row = client_row(app, registered["client_id"])
    assert row.check_client_secret(secret) and not row.check_client_secret(
        registered["client_secret"]
    )


def test_delete(app, client, registered):
    token = registered["registration_access_token"]
    response = client.delete(registered["path"], headers=bearer(token))
    assert response.status_code == 204 and response.data == b""
    assert client_row(app, registered["client_id"]) is None
    # The registration token died with the client.
    assert_error(client.get(registered["path"], headers=bearer(token)), 401, "invalid_token")
    assert_error(client.delete(registered["path"], headers=bearer(token)), 401, "invalid_token")
    with app.app_context():
        from idp.audit import AuditEvent

        assert db.session.query(AuditEvent).filter_by(action="client.delete").count() == 1


def test_disabled_client_cannot_manage_itself(app, client, registered, runner):
    assert runner.invoke(args=["clients", "disable", registered["client_id"]]).exit_code == 0
    token = registered["registration_access_token"]
    assert_error(client.get(registered["path"], headers=bearer(token)), 403, "unauthorized_client")
    assert_error(
        client.delete(registered["path"], headers=bearer(token)), 403, "unauthorized_client"
    )
    assert client_row(app, registered["client_id"]) is not None


def test_post_to_the_configuration_endpoint_is_not_allowed(client, registered):
    response = client.post(registered["path"], json={})
    assert response.status_code == 405
