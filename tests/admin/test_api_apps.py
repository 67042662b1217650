"""The admin API's applications, registration tokens, keys and deliveries (both databases):
the console's operations for programs, super-administrators only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.admin import grant_unit
from helpers.admin_api import API, automation_token, bearer, make_tool_client, person_token, problem
from helpers.clients import insert_client
from helpers.people import PASSWORD


@pytest.fixture
def app_config() -> dict:
    return {"LOGOUT_DELIVER_IMMEDIATELY": False}


@pytest.fixture
def admin(app):
    """An automation client's token: acts as a super-administrator."""
    return bearer(automation_token(app, app.test_client()))


def _audit(app, action: str):
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail).where(
                    AuditEvent.action == action
                )
            )
        ]


def _client(app, client_id):
    from idp.clients.models import Client
    from idp.extensions import db

    with app.app_context():
        row = db.session.scalar(sa.select(Client).where(Client.client_id == client_id))
        if row is not None:
            db.session.expunge(row)
        return row


NEW = {
    "client_id": "motcua",
    "client_name": "Một cửa",
    "redirect_uris": ["https://motcua.haugiang.gov.vn/cb"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile offline_access",
    "first_party": True,
    "access_token_ttl": 600,
}


def test_create_get_list_update_rotate_disable_enable(app, client, admin):
    created = client.post(f"{API}/clients", json=NEW, headers=admin)
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    secret = body["client_secret"]
    assert body["client"]["client_id"] == "motcua" and body["client"]["has_secret"]
    row = _client(app, "motcua")
    assert row.check_client_secret(secret) and row.source == "api" and row.access_token_ttl == 600
    assert [a[:2] for a in _audit(app, "client.create")] == [("automation", "motcua")]

    one = client.get(f"{API}/clients/motcua", headers=admin).get_json()
    assert one["first_party"] is True and secret not in str(one)
    listed = client.get(f"{API}/clients?active=true", headers=admin).get_json()
    assert "motcua" in [c["client_id"] for c in listed["items"]]

    changed = client.patch(
        f"{API}/clients/motcua",
        json={"post_logout_redirect_uris": ["https://motcua.haugiang.gov.vn/"], "scope": None},
        headers=admin,
    )
    assert changed.status_code == 200
    assert "client_secret" not in changed.get_json()
    row = _client(app, "motcua")
    assert row.post_logout_redirect_uris == ["https://motcua.haugiang.gov.vn/"]
    assert row.access_token_ttl == 600 and row.first_party  # settings left out: kept

    rotated = client.post(f"{API}/clients/motcua/rotate-secret", headers=admin).get_json()
    assert _client(app, "motcua").check_client_secret(rotated["client_secret"])
    assert not _client(app, "motcua").check_client_secret(secret)

    assert client.post(f"{API}/clients/motcua/disable", headers=admin).get_json()["active"] is False
    listed = client.get(f"{API}/clients?active=false", headers=admin).get_json()
    assert [c["client_id"] for c in listed["items"]] == ["motcua"]
    assert client.post(f"{API}/clients/motcua/enable", headers=admin).get_json()["active"] is True


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"redirect_uris": ["javascript:alert(1)"]}, "/redirect_uris"),
        ({"redirect_uris": ["https://rp.example/cb#frag"]}, "/redirect_uris"),
        ({"redirect_uris": ["http://rp.example/cb"]}, "/redirect_uris"),
        ({"client_secret": "chosen"}, "/client_secret"),
        ({"source": "dynamic"}, "/source"),
        ({"access_token_ttl": "soon"}, "/access_token_ttl"),
    ],
)
def test_the_registration_rules_apply(app, client, admin, change, pointer):
    answer = client.post(f"{API}/clients", json={**NEW, **change}, headers=admin)
    body = problem(answer, 422)
    assert [e["pointer"] for e in body["errors"]] == [pointer]
    assert _client(app, "motcua") is None


def test_taken_client_id_is_409_and_unknown_is_404(app, client, admin):
    insert_client(app, "motcua", {"redirect_uris": ["https://a.example/cb"]})
    problem(client.post(f"{API}/clients", json=NEW, headers=admin), 409)
    problem(client.get(f"{API}/clients/none", headers=admin), 404)
    problem(client.post(f"{API}/clients/none/disable", headers=admin), 404)


def test_rotating_a_public_clients_secret_is_409(app, client, admin):
    insert_client(
        app,
        "app",
        {"redirect_uris": ["vn.gov.app:/cb"], "token_endpoint_auth_method": "none"},
    )
    problem(client.post(f"{API}/clients/app/rotate-secret", headers=admin), 409)


def test_registration_tokens(app, client, admin):
    created = client.post(
        f"{API}/registration-tokens",
        json={"expires_in": 3600, "uses": 2, "note": "Sở Y tế"},
        headers=admin,
    )
    assert created.status_code == 201
    body = created.get_json()
    listed = client.get(f"{API}/registration-tokens", headers=admin).get_json()
    assert [t["id"] for t in listed["items"]] == [body["id"]]
    assert "token" not in listed["items"][0] and body["token"] not in str(listed)
    problem(client.post(f"{API}/registration-tokens", json={"expires_in": 0}, headers=admin), 422)
    deleted = client.delete(f"{API}/registration-tokens/{body['id']}", headers=admin)
    assert deleted.status_code == 204
    problem(client.delete(f"{API}/registration-tokens/{body['id']}", headers=admin), 404)
    problem(client.delete(f"{API}/registration-tokens/4294967296", headers=admin), 404)


def test_keys_list_and_rotate(app, client, admin):
    keys = client.get(f"{API}/keys", headers=admin).get_json()["items"]
    before = {k["state"]: k["kid"] for k in keys if k["alg"] == "RS256"}
    problem(client.post(f"{API}/keys/rotate", json={"alg": "RS256"}, headers=admin), 409)
    problem(client.post(f"{API}/keys/rotate", json={"alg": "HS256"}, headers=admin), 422)
    done = client.post(f"{API}/keys/rotate", json={"alg": "RS256", "force": True}, headers=admin)
    assert done.status_code == 200
    assert done.get_json()["current"] == before["next"]
    assert done.get_json()["retired"] == before["current"]
    [(actor, subject, _detail)] = _audit(app, "keys.rotate")
    assert (actor, subject) == ("automation", before["next"])


def test_deliveries_list_and_retry(app, client, admin):
    from idp.extensions import db, utcnow
    from idp.sessions import outbox
    from idp.sessions.models import LogoutDelivery

    insert_client(app, "motcua", {"backchannel_logout_uri": "https://motcua.example/bc"})
    with app.test_request_context():
        [row_id] = outbox.enqueue(
            [outbox.Notice("motcua", "sub-1", "sid-1", "logout")], retry_seconds=60, now=utcnow()
        )
        db.session.execute(sa.update(LogoutDelivery).values(status="gave_up", last_error="timeout"))
        db.session.info.pop(outbox.SESSION_INFO_KEY, None)
        db.session.commit()
    page = client.get(f"{API}/deliveries/logout?status=gave_up", headers=admin).get_json()
    assert [(d["id"], d["last_error"]) for d in page["items"]] == [(row_id, "timeout")]
    assert client.get(f"{API}/deliveries/mail", headers=admin).get_json()["items"] == []
    problem(client.get(f"{API}/deliveries/logout?status=lost", headers=admin), 422)
    retried = client.post(
        f"{API}/deliveries/logout/retry", json={"client_id": "motcua"}, headers=admin
    )
    assert retried.get_json() == {"requeued": [row_id]}
    page = client.get(f"{API}/deliveries/logout?status=pending", headers=admin).get_json()
    assert [d["id"] for d in page["items"]] == [row_id]
    mail = client.post(f"{API}/deliveries/mail/retry", json={}, headers=admin).get_json()
    assert mail == {"requeued": [], "not_resendable": []}
    problem(client.post(f"{API}/deliveries/mail/retry", json={"ids": ["1"]}, headers=admin), 422)


OPERATIONS = [
    ("get", "/clients", None),
    ("get", "/clients/webmail", None),
    ("post", "/clients", NEW),
    ("patch", "/clients/webmail", {"client_name": "x"}),
    ("post", "/clients/webmail/rotate-secret", None),
    ("post", "/clients/webmail/disable", None),
    ("post", "/clients/webmail/enable", None),
    ("get", "/registration-tokens", None),
    ("post", "/registration-tokens", {"expires_in": 60}),
    ("delete", "/registration-tokens/1", None),
    ("get", "/keys", None),
    ("post", "/keys/rotate", {"alg": "RS256", "force": True}),
    ("get", "/deliveries/logout", None),
    ("get", "/deliveries/mail", None),
    ("post", "/deliveries/logout/retry", {}),
    ("post", "/deliveries/mail/retry", {}),
]


def test_a_unit_administrator_gets_403_and_an_audit_event(app, client, make_user, make_unit):
    make_unit("VT", "Thành phố Vị Thanh", kind="district")
    make_user("it.vithanh@haugiang.gov.vn", password=PASSWORD, unit="VT")
    grant_unit(app, "it.vithanh@haugiang.gov.vn", "VT")
    make_tool_client(app)
    insert_client(app, "webmail", {"redirect_uris": ["https://a.example/cb"]}, secret="s" * 43)
    http = app.test_client()
    headers = bearer(person_token(app, http, "it.vithanh@haugiang.gov.vn"))
    sub = _audit_actor_sub(app, "it.vithanh@haugiang.gov.vn")
    for method, path, body in OPERATIONS:
        answer = getattr(client, method)(f"{API}{path}", json=body, headers=headers)
        assert problem(answer, 403)["type"] == "urn:hg:idp:problem:forbidden", path
    row = _client(app, "webmail")
    assert row.active and row.check_client_secret("s" * 43)
    assert [a[0] for a in _audit(app, "admin.denied")] == [sub] * len(OPERATIONS)


def _audit_actor_sub(app, email):
    from idp.directory.store import find_user_by_address

    with app.app_context():
        return find_user_by_address(email).sub


def test_reading_needs_admin_read_and_writing_admin_write(app, client):
    reader = bearer(automation_token(app, client, scope="admin:read"))
    assert client.get(f"{API}/clients", headers=reader).status_code == 200
    body = problem(client.post(f"{API}/clients", json=NEW, headers=reader), 403)
    assert body["type"] == "urn:hg:idp:problem:insufficient-scope"
    assert _client(app, "motcua") is None
