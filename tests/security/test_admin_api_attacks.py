"""Attacks on the admin API (/admin/api/v1): getting an admin scope without an administrator
granting it, replaying tokens meant for something else, riding a console session, and
reaching outside a delegated subtree."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from helpers.admin import console_sign_in, grant_unit
from helpers.admin_api import (
    API,
    automation_token,
    bearer,
    client_token,
    make_tool_client,
    person_token,
    problem,
)
from helpers.clients import (
    SECRET,
    assert_error,
    initial_access_token,
    make_client,
    make_machine_client,
)
from helpers.oidc_flow import RelyingParty
from helpers.people import EMAIL, PASSWORD

ADMIN_EMAIL = "quan.tri@haugiang.gov.vn"


@pytest.mark.parametrize(
    "metadata",
    [
        {"scope": "openid admin:read"},
        {"scope": "admin:write", "grant_types": ["client_credentials"], "response_types": []},
        {
            "scope": "openid",
            "grant_types": ["authorization_code", "client_credentials"],
            "admin_automation": True,
        },
    ],
)
def test_dynamic_registration_never_grants_admin_scopes_or_automation(app, client, metadata):
    token = initial_access_token(app)
    answer = client.post(
        "/oauth2/register",
        json={"redirect_uris": ["https://rp.example/callback"], **metadata},
        headers=bearer(token),
    )
    assert_error(answer, 400, "invalid_client_metadata")


def test_cli_grants_automation_only_with_an_admin_scope(app, runner):
    refused = runner.invoke(
        args=[
            "clients",
            "create",
            "--client-id",
            "robot",
            "--grant-type",
            "client_credentials",
            "--scope",
            "lgsp.read",
            "--admin-automation",
        ]
    )
    assert refused.exit_code != 0 and "admin_automation" in refused.output
    made = runner.invoke(
        args=[
            "clients",
            "create",
            "--client-id",
            "robot",
            "--grant-type",
            "client_credentials",
            "--scope",
            "admin:read",
            "--admin-automation",
        ]
    )
    assert made.exit_code == 0, made.output
    from idp.clients.store import find_client

    with app.app_context():
        assert find_client("robot").meta("admin_automation") is True


def test_a_client_asks_for_an_admin_scope_it_was_not_registered_for(app, client):
    make_machine_client(app, "lgsp", "lgsp.read", admin_automation=True)
    assert_error(client_token(client, "lgsp", "admin:read"), 400, "invalid_scope")
    token = client_token(client, "lgsp").get_json()["access_token"]
    problem(client.get(f"{API}/me", headers=bearer(token)), 403)


def test_a_relying_party_cannot_get_an_admin_scope_from_a_person(app, client, make_user):
    """A relying party without the admin scopes asks for them when a super-administrator
    signs in: the scope is dropped, and the token is no key to the API."""
    make_client(app, "webmail")
    make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    console_sign_in(app, client, ADMIN_EMAIL)
    tokens = RelyingParty(client, "webmail", SECRET).tokens(
        login=False, scope="openid admin:read admin:write"
    )
    assert "admin" not in tokens.get("scope", "")
    problem(client.get(f"{API}/me", headers=bearer(tokens["access_token"])), 403)


def test_a_console_session_is_no_key_to_the_api(app, client, make_user):
    make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    console_sign_in(app, client, ADMIN_EMAIL)
    assert client.get("/admin/").status_code == 200
    problem(client.get(f"{API}/me"), 401)


def test_id_token_and_refresh_token_are_not_access_tokens(app, client, make_user):
    make_tool_client(
        app,
        grant_types=["authorization_code", "refresh_token"],
        scope="openid offline_access admin:read admin:write",
    )
    make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    console_sign_in(app, client, ADMIN_EMAIL)
    tokens = RelyingParty(client, "admin-tool").tokens(
        login=False, scope="openid offline_access admin:read", prompt="consent"
    )
    assert client.get(f"{API}/me", headers=bearer(tokens["access_token"])).status_code == 200
    for other in (tokens["id_token"], tokens["refresh_token"]):
        problem(client.get(f"{API}/me", headers=bearer(other)), 401)


def test_unsigned_and_re_signed_tokens_are_refused(app, client):
    token = automation_token(app, client, "automation", scope="admin:read")
    header, payload, _signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin:read admin:write"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    for forged in (f"{header}.{forged_payload}.{_signature}", f"{none_header}.{forged_payload}."):
        problem(client.get(f"{API}/me", headers=bearer(forged)), 401)


def test_a_resource_server_replays_a_token_it_received(app, client):
    """An automation client's token issued for a relying party's API (its `aud`) is refused
    here, even though the client may use the admin API with a token meant for it."""
    automation_token(app, client, "gateway", allowed_audiences=["https://lgsp.example"])
    answer = client_token(client, "gateway", resource="https://lgsp.example")
    token = answer.get_json()["access_token"]
    problem(client.get(f"{API}/me", headers=bearer(token)), 401)


def test_unit_administrator_outside_the_subtree_is_403_and_audited(
    app, client, make_user, make_unit
):
    from idp.audit import AuditEvent
    from idp.extensions import db

    make_unit("HG", kind="province")
    make_unit("VT", kind="district", parent="HG")
    make_unit("NB", kind="district", parent="HG")
    make_tool_client(app)
    sub = make_user(EMAIL, password=PASSWORD, unit="VT")
    grant_unit(app, EMAIL, "VT")
    token = person_token(app, client, EMAIL)
    for path in ("/units/NB", "/units/HG"):
        problem(client.get(f"{API}{path}", headers=bearer(token)), 403)
    listed = client.get(f"{API}/units?parent=HG", headers=bearer(token)).get_json()
    assert [u["code"] for u in listed["items"]] == ["VT"]
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject, AuditEvent.outcome).where(
                AuditEvent.action == "admin.denied"
            )
        ).all()
    assert sorted(tuple(e) for e in events) == [
        (sub, f"{API}/units/HG", "failure"),
        (sub, f"{API}/units/NB", "failure"),
    ]
