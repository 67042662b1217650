"""Who may call the admin API (/admin/api/v1): bearer tokens from our token endpoint with the
admin scopes, acting as their person (their scope, read at every call) or, for an automation
client, as a super-administrator. Every refusal is an RFC 9457 problem object."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.admin import grant_unit
from helpers.admin_api import (
    API,
    automation_token,
    bearer,
    make_tool_client,
    person_token,
    problem,
)
from helpers.clients import make_machine_client
from helpers.clock import shift_utcnow
from helpers.oidc_flow import RelyingParty, basic
from helpers.people import EMAIL, PASSWORD

ADMIN_EMAIL = "quan.tri@haugiang.gov.vn"


def _denials(app) -> list[tuple[str, str | None]]:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject)
            .where(AuditEvent.action == "admin.denied")
            .order_by(AuditEvent.id)
        )
        return [tuple(r) for r in rows]


def _set_roles(app, sub: str, roles: list[str]) -> None:
    from idp.directory.store import find_user_by_sub
    from idp.extensions import db

    with app.app_context():
        find_user_by_sub(sub).roles = roles
        db.session.commit()


def _set_status(app, sub: str, status: str) -> None:
    from idp.directory.store import find_user_by_sub
    from idp.extensions import db

    with app.app_context():
        find_user_by_sub(sub).status = status
        db.session.commit()


def test_no_token_is_401_with_a_bare_challenge(client):
    body = problem(client.get(f"{API}/me"), 401)
    answer = client.get(f"{API}/me")
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="http://idp.test"'
    assert body["type"] == "urn:hg:idp:problem:invalid-token"
    assert body["instance"] == f"{API}/me"
    assert answer.headers["Cache-Control"] == "no-store"


def test_another_scheme_is_400_invalid_request(client):
    answer = client.get(f"{API}/me", headers={"Authorization": "Basic YTpi"})
    problem(answer, 400)
    assert 'error="invalid_request"' in answer.headers["WWW-Authenticate"]


def test_a_bad_token_is_401_invalid_token(client):
    answer = client.get(f"{API}/me", headers=bearer("not.a.token"))
    problem(answer, 401)
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_token_in_the_query_string_is_not_read(app, client):
    token = automation_token(app, client)
    problem(client.get(f"{API}/me?access_token={token}"), 401)


def test_automation_client_acts_as_super_administrator(app, client, make_unit):
    make_unit("HG", "Hậu Giang", kind="province")
    token = automation_token(app, client)
    answer = client.get(f"{API}/me", headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {
        "actor": "automation",
        "kind": "automation",
        "client_id": "automation",
        "scopes": ["admin:read", "admin:write"],
        "super_administrator": True,
        "units": [],
        "person": None,
    }
    assert client.get(f"{API}/units/HG", headers=bearer(token)).get_json()["name"] == "Hậu Giang"


def test_client_not_marked_for_automation_gets_403_and_an_audit_event(app, client):
    token = automation_token(app, client, "reporting", automation=False)
    body = problem(client.get(f"{API}/me", headers=bearer(token)), 403)
    assert body["type"] == "urn:hg:idp:problem:forbidden"
    assert _denials(app) == [("reporting", f"{API}/me")]


def test_automation_mark_taken_away_counts_at_the_next_call(app, client):
    from idp.clients.store import find_client
    from idp.extensions import db

    token = automation_token(app, client)
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
    with app.app_context():
        row = find_client("automation")
        row.client_metadata = {
            k: v for k, v in row.client_metadata.items() if k != "admin_automation"
        }
        db.session.commit()
    problem(client.get(f"{API}/me", headers=bearer(token)), 403)


def test_expired_token_is_401(app, client, monkeypatch):
    from idp.oidc import endpoints

    token = automation_token(app, client)
    shift_utcnow(monkeypatch, endpoints, 3601)
    answer = client.get(f"{API}/me", headers=bearer(token))
    assert problem(answer, 401)["detail"] == "The access token has expired."


def test_revoked_token_is_401(app, client):
    token = automation_token(app, client)
    revoked = client.post("/oauth2/revoke", data={"token": token}, headers=basic("automation"))
    assert revoked.status_code == 200
    answer = client.get(f"{API}/me", headers=bearer(token))
    assert problem(answer, 401)["detail"] == "The access token was revoked."


def test_disabled_client_token_is_401(app, client):
    from idp.clients.store import find_client
    from idp.extensions import db

    token = automation_token(app, client)
    with app.app_context():
        find_client("automation").active = False
        db.session.commit()
    problem(client.get(f"{API}/me", headers=bearer(token)), 401)


def test_read_scope_cannot_call_a_write_operation_and_no_admin_scope_nothing(app, client):
    make_machine_client(app, "other", "lgsp.read")
    answer = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic("other"),
    )
    token = answer.get_json()["access_token"]
    refused = client.get(f"{API}/me", headers=bearer(token))
    body = problem(refused, 403)
    assert body["type"] == "urn:hg:idp:problem:insufficient-scope"
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert 'scope="admin:read"' in refused.headers["WWW-Authenticate"]
    assert _denials(app) == [("other", f"{API}/me")]


def test_token_for_another_resource_server_is_refused(app, client):
    automation_token(app, client, "gateway", allowed_audiences=["https://lgsp.haugiang.gov.vn"])
    answer = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "resource": "https://lgsp.haugiang.gov.vn"},
        headers=basic("gateway"),
    )
    token = answer.get_json()["access_token"]
    body = problem(client.get(f"{API}/me", headers=bearer(token)), 401)
    assert body["detail"] == "The access token is for another audience."


def test_token_for_this_api_as_audience_is_accepted(app, client):
    audience = "http://idp.test/admin/api/v1"
    automation_token(app, client, "gateway", allowed_audiences=[audience, "https://x.example"])
    answer = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "resource": audience},
        headers=basic("gateway"),
    )
    token = answer.get_json()["access_token"]
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200


# ---------------------------------------------------------------- a person's token


def test_super_administrator_token_acts_as_the_person(app, client, make_user):
    make_tool_client(app)
    sub = make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    token = person_token(app, client, ADMIN_EMAIL)
    body = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert body["actor"] == sub
    assert body["kind"] == "person"
    assert body["super_administrator"] is True
    assert body["person"]["email"] == ADMIN_EMAIL


def test_token_of_a_sign_in_without_second_factor_is_401_step_up(app, client, make_user):
    # Administrators are asked for their second factor at sign-in anyway; anyone else may
    # sign in with a password alone, and the API asks for more before anything else.
    make_tool_client(app)
    make_user(EMAIL, password=PASSWORD)
    tokens = RelyingParty(client, "admin-tool").tokens(scope="openid admin:read")
    answer = client.get(f"{API}/me", headers=bearer(tokens["access_token"]))
    body = problem(answer, 401)
    assert body["type"] == "urn:hg:idp:problem:insufficient-user-authentication"
    challenge = answer.headers["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:hg:loa:2"' in challenge


def test_person_demoted_since_the_token_loses_access_at_once(app, client, make_user):
    make_tool_client(app)
    sub = make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    token = person_token(app, client, ADMIN_EMAIL)
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
    _set_roles(app, sub, [])
    problem(client.get(f"{API}/me", headers=bearer(token)), 403)
    assert _denials(app) == [(sub, f"{API}/me")]


def test_person_disabled_since_the_token_loses_access_at_once(app, client, make_user):
    make_tool_client(app)
    sub = make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    token = person_token(app, client, ADMIN_EMAIL)
    _set_status(app, sub, "disabled")
    problem(client.get(f"{API}/me", headers=bearer(token)), 401)


def test_plain_user_token_gets_403_and_an_audit_event(app, client, make_user):
    make_tool_client(app)
    sub = make_user(EMAIL, password=PASSWORD)
    token = person_token(app, client, EMAIL)
    problem(client.get(f"{API}/units", headers=bearer(token)), 403)
    assert _denials(app) == [(sub, f"{API}/units")]


def test_read_only_token_of_a_super_administrator(app, client, make_user):
    make_tool_client(app)
    make_user(ADMIN_EMAIL, password=PASSWORD, roles=["admin"])
    token = person_token(app, client, ADMIN_EMAIL, scope="openid admin:read")
    body = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert body["scopes"] == ["admin:read"]


def test_unit_administrator_sees_their_subtree_only(app, client, make_user, make_unit):
    make_unit("HG", kind="province")
    make_unit("VT", "Thành phố Vị Thanh", kind="district", parent="HG")
    make_unit("VT-P1", "Phường I", kind="ward", parent="VT")
    make_unit("NB", "Thành phố Ngã Bảy", kind="district", parent="HG")
    make_tool_client(app)
    sub = make_user("it.vithanh@haugiang.gov.vn", password=PASSWORD, unit="VT")
    grant_unit(app, "it.vithanh@haugiang.gov.vn", "VT")
    token = person_token(app, client, "it.vithanh@haugiang.gov.vn")

    me = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert me["super_administrator"] is False and me["units"] == ["VT"]
    listed = client.get(f"{API}/units", headers=bearer(token)).get_json()
    assert [u["code"] for u in listed["items"]] == ["VT", "VT-P1"]
    assert client.get(f"{API}/units/VT-P1", headers=bearer(token)).status_code == 200

    body = problem(client.get(f"{API}/units/NB", headers=bearer(token)), 403)
    assert body["type"] == "urn:hg:idp:problem:forbidden"
    assert _denials(app) == [(sub, f"{API}/units/NB")]


def test_a_manifest_marks_a_client_for_automation(app, client, runner, tmp_path, monkeypatch):
    (tmp_path / "sync.toml").write_text(
        'client_id = "sync"\n'
        'client_name = "Đồng bộ nhân sự"\n'
        'client_secret_env = "SYNC_SECRET"\n'
        'grant_types = ["client_credentials"]\n'
        'scope = "admin:read"\n'
        "admin_automation = true\n",
        encoding="utf-8",
    )
    from helpers.clients import SECRET

    monkeypatch.setenv("SYNC_SECRET", SECRET)
    applied = runner.invoke(args=["clients", "apply", str(tmp_path)])
    assert applied.exit_code == 0, applied.output
    answer = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic("sync")
    )
    token = answer.get_json()["access_token"]
    me = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert me["kind"] == "automation" and me["super_administrator"] is True
    assert me["scopes"] == ["admin:read"]


def test_write_implies_read_and_read_is_not_write():
    from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE, token_allows

    assert token_allows({ADMIN_WRITE}, ADMIN_READ)
    assert token_allows({ADMIN_READ}, ADMIN_READ)
    assert not token_allows({ADMIN_READ}, ADMIN_WRITE)
    assert not token_allows({"openid", "admin"}, ADMIN_READ)
