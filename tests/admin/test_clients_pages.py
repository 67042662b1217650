"""The console's applications pages: register, edit, rotate, disable, enable, sign-ins,
delivery state, initial access tokens (both databases)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from helpers.admin import make_admin, make_unit_admin
from helpers.clients import insert_client
from helpers.db import count_rows
from helpers.pages import csrf_of

WEB = {
    "client_name": "Hệ thống một cửa",
    "application_type": "web",
    "token_endpoint_auth_method": "client_secret_basic",
    "redirect_uris": "https://motcua.haugiang.gov.vn/auth/callback\r\n"
    "https://motcua.haugiang.gov.vn/auth/callback2",
    "post_logout_redirect_uris": "https://motcua.haugiang.gov.vn/",
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile email offline_access",
    "backchannel_logout_uri": "https://motcua.haugiang.gov.vn/auth/backchannel-logout",
    "backchannel_logout_session_required": "1",
    "default_acr_values": ["urn:hg:loa:2"],
    "first_party": "1",
    "access_token_ttl": "600",
    "allowed_audiences": "https://api.haugiang.gov.vn",
}
SECRET_ON_PAGE = re.compile(r'<code id="client-secret">([^<]+)</code>')


def _client_row(app, client_id: str):
    from idp.clients.models import Client
    from idp.extensions import db

    with app.app_context():
        row = db.session.scalar(sa.select(Client).where(Client.client_id == client_id))
        if row is not None:
            db.session.expunge(row)
        return row


def _audit(app, action: str) -> list[tuple[str, str | None, dict]]:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [tuple(r) for r in rows]


def register(client, data: dict, path: str = "/admin/clients/new"):
    return client.post(path, data={**data, "csrf_token": csrf_of(client, path)})


def test_register_shows_the_secret_once_and_stores_its_hash(app, client, make_user):
    sub = make_admin(app, make_user, client)
    answer = register(client, {**WEB, "client_id": "motcua"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    html = answer.get_data(as_text=True)
    secret = SECRET_ON_PAGE.search(html).group(1)
    assert answer.headers["Cache-Control"] == "no-store"
    row = _client_row(app, "motcua")
    assert row.check_client_secret(secret)
    assert row.first_party is True and row.access_token_ttl == 600 and row.source == "console"
    meta = row.client_metadata
    assert meta["redirect_uris"] == [
        "https://motcua.haugiang.gov.vn/auth/callback",
        "https://motcua.haugiang.gov.vn/auth/callback2",
    ]
    assert meta["grant_types"] == ["authorization_code", "refresh_token"]
    assert meta["default_acr_values"] == ["urn:hg:loa:2"]
    assert meta["allowed_audiences"] == ["https://api.haugiang.gov.vn"]
    assert meta["backchannel_logout_session_required"] is True
    assert _audit(app, "client.create") == [
        (sub, "motcua", {"source": "console", "auth_method": "client_secret_basic"})
    ]
    # Never again: not on the client's page, the list, the edit form.
    for path in ("/admin/clients", "/admin/clients/motcua", "/admin/clients/motcua/edit"):
        page = client.get(path)
        assert page.status_code == 200
        assert secret not in page.get_data(as_text=True)
    listing = client.get("/admin/clients").get_data(as_text=True)
    assert "Hệ thống một cửa" in listing and "Chưa có" in listing


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("redirect_uris", "javascript:alert(1)", "redirect_uris-error"),
        ("redirect_uris", "https://rp.example/cb#frag", "redirect_uris-error"),
        ("redirect_uris", "http://rp.example/cb", "redirect_uris-error"),
        ("post_logout_redirect_uris", "javascript:alert(1)", "post_logout_redirect_uris-error"),
        ("backchannel_logout_uri", "ftp://rp.example/logout", "backchannel_logout_uri-error"),
        ("scope", 'openid "quoted"', "scope-error"),
        ("access_token_ttl", "soon", "access_token_ttl-error"),
        ("access_token_ttl", "99999999999", "access_token_ttl-error"),
        ("default_acr_values", ["urn:made:up"], "default_acr_values-error"),
        ("token_endpoint_auth_method", "private_key_jwt", "token_endpoint_auth_method-error"),
    ],
)
def test_bad_input_shows_the_form_again_and_stores_nothing(
    app, client, make_user, field, value, error
):
    from idp.audit import AuditEvent
    from idp.clients.models import Client

    make_admin(app, make_user, client)
    before = count_rows(app, AuditEvent)
    answer = register(client, {**WEB, "client_id": "motcua", field: value})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert f'id="{error}"' in html
    assert "Chưa lưu" in html
    # What was typed is still there.
    assert "Hệ thống một cửa" in html
    assert _client_row(app, "motcua") is None
    assert count_rows(app, AuditEvent) == before
    assert count_rows(app, Client) == 0


def test_refresh_token_without_code_grant_is_refused_on_the_grants(app, client, make_user):
    make_admin(app, make_user, client)
    answer = register(client, {**WEB, "grant_types": ["refresh_token"], "client_id": "x1"})
    assert answer.status_code == 400
    assert 'id="grant_types-error"' in answer.get_data(as_text=True)


def test_taken_client_id_is_an_error_on_its_field(app, client, make_user):
    make_admin(app, make_user, client)
    insert_client(app, "motcua", {"redirect_uris": ["https://a.example/cb"]})
    answer = register(client, {**WEB, "client_id": "motcua"})
    assert answer.status_code == 400
    assert 'id="client_id-error"' in answer.get_data(as_text=True)


def test_machine_client_and_public_native_client(app, client, make_user):
    make_admin(app, make_user, client)
    machine = register(
        client,
        {
            "client_id": "lgsp",
            "client_name": "LGSP",
            "application_type": "web",
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["client_credentials"],
            "scope": "lgsp.read",
        },
    )
    assert machine.status_code == 200, machine.get_data(as_text=True)[:1500]
    assert _client_row(app, "lgsp").client_metadata["response_types"] == []
    native = register(
        client,
        {
            "client_id": "app",
            "client_name": "HauGiang App",
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": "vn.gov.haugiang.app:/oauth2redirect",
            "grant_types": ["authorization_code", "refresh_token"],
        },
    )
    assert native.status_code == 200
    assert 'id="no-secret"' in native.get_data(as_text=True)
    assert _client_row(app, "app").client_secret_hash is None


def test_edit_keeps_what_the_form_does_not_show(app, client, make_user):
    sub = make_admin(app, make_user, client)
    insert_client(
        app,
        "motcua",
        {
            "client_name": "Một cửa",
            "client_name#en": "One-stop shop",
            "redirect_uris": ["https://motcua.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        secret="s" * 43,
    )
    path = "/admin/clients/motcua/edit"
    form = client.get(path).get_data(as_text=True)
    assert "https://motcua.example/cb" in form
    answer = client.post(
        path,
        data={
            "csrf_token": csrf_of(client, path),
            "client_name": "Một cửa điện tử",
            "application_type": "web",
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": "https://motcua.example/cb\nhttps://motcua.example/cb2",
            "grant_types": ["authorization_code"],
        },
    )
    assert answer.status_code == 302
    row = _client_row(app, "motcua")
    assert row.client_metadata["client_name"] == "Một cửa điện tử"
    assert row.client_metadata["client_name#en"] == "One-stop shop"
    assert row.redirect_uris == ["https://motcua.example/cb", "https://motcua.example/cb2"]
    assert row.check_client_secret("s" * 43)
    assert row.first_party is False
    [(actor, subject, detail)] = _audit(app, "client.update")
    assert (actor, subject) == (sub, "motcua")
    assert "redirect_uris" in detail["changed"] and "first_party" in detail["changed"]


def test_bad_edit_changes_nothing(app, client, make_user):
    make_admin(app, make_user, client)
    insert_client(app, "motcua", {"redirect_uris": ["https://motcua.example/cb"]})
    path = "/admin/clients/motcua/edit"
    answer = client.post(
        path,
        data={
            "csrf_token": csrf_of(client, path),
            "redirect_uris": "https://motcua.example/cb\njavascript:alert(1)",
            "grant_types": ["authorization_code"],
        },
    )
    assert answer.status_code == 400
    assert 'id="redirect_uris-error"' in answer.get_data(as_text=True)
    assert _client_row(app, "motcua").redirect_uris == ["https://motcua.example/cb"]
    assert _audit(app, "client.update") == []


def test_rotate_asks_first_then_shows_the_new_secret_once(app, client, make_user):
    sub = make_admin(app, make_user, client)
    insert_client(
        app,
        "motcua",
        {
            "redirect_uris": ["https://a.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        secret="s" * 43,
    )
    path = "/admin/clients/motcua/rotate-secret"
    confirm = client.get(path)
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.get_data(as_text=True)
    assert _client_row(app, "motcua").check_client_secret("s" * 43)
    answer = client.post(path, data={"csrf_token": csrf_of(client, path)})
    secret = SECRET_ON_PAGE.search(answer.get_data(as_text=True)).group(1)
    row = _client_row(app, "motcua")
    assert row.check_client_secret(secret) and not row.check_client_secret("s" * 43)
    assert _audit(app, "client.rotate_secret") == [(sub, "motcua", {})]


def test_disable_and_enable_ask_first(app, client, make_user):
    sub = make_admin(app, make_user, client)
    insert_client(app, "motcua", {"redirect_uris": ["https://a.example/cb"]})
    path = "/admin/clients/motcua/disable"
    assert "introspection" in client.get(path).get_data(as_text=True)
    assert _client_row(app, "motcua").active is True
    assert client.post(path, data={"csrf_token": csrf_of(client, path)}).status_code == 302
    assert _client_row(app, "motcua").active is False
    assert "Đã tắt" in client.get("/admin/clients").get_data(as_text=True)
    path = "/admin/clients/motcua/enable"
    assert client.post(path, data={"csrf_token": csrf_of(client, path)}).status_code == 302
    assert _client_row(app, "motcua").active is True
    assert [a[:2] for a in _audit(app, "client.disable") + _audit(app, "client.enable")] == [
        (sub, "motcua"),
        (sub, "motcua"),
    ]


def test_client_page_shows_recent_sign_ins_and_failed_deliveries(app, client, make_user):
    from idp import audit
    from idp.extensions import db, utcnow
    from idp.sessions import outbox

    make_admin(app, make_user, client)
    person = make_user("nguoi.dung@haugiang.gov.vn", family_name="Trần", given_name="Bình")
    insert_client(app, "motcua", {"redirect_uris": ["https://a.example/cb"]})
    with app.test_request_context():
        audit.record("authorize", actor=person, subject="motcua", detail={"acr": "urn:hg:loa:1"})
        now = utcnow()
        [row_id] = outbox.enqueue(
            [outbox.Notice("motcua", person, "sid-1", "logout")], retry_seconds=60, now=now
        )
        db.session.execute(
            sa.text("UPDATE logout_deliveries SET status='gave_up', last_error='timeout'")
        )
        db.session.commit()
    html = client.get("/admin/clients/motcua").get_data(as_text=True)
    assert "Trần Văn Bình" in html and "urn:hg:loa:1" in html
    assert 'id="failed-deliveries"' in html and "timeout" in html
    listing = client.get("/admin/clients").get_data(as_text=True)
    assert "Chưa có" not in listing
    # The application's whole history is one click away, and it holds the sign-in.
    assert 'href="/admin/audit?client=motcua"' in html
    history = client.get("/admin/audit?client=motcua").get_data(as_text=True)
    assert "authorize" in history and person in history


def test_unknown_client_is_404(app, client, make_user):
    make_admin(app, make_user, client)
    assert client.get("/admin/clients/nope").status_code == 404
    assert client.get("/admin/clients/nope/edit").status_code == 404


def test_registration_tokens_created_once_listed_and_revoked(app, client, make_user):
    sub = make_admin(app, make_user, client)
    path = "/admin/clients/registration-tokens"
    answer = client.post(
        path,
        data={
            "csrf_token": csrf_of(client, path),
            "expires_in": "7d",
            "uses": "3",
            "note": "Sở Y tế",
        },
    )
    assert answer.status_code == 200
    token = re.search(r'<code id="issued-token">([^<]+)</code>', answer.get_data(as_text=True))[1]
    listing = client.get(path).get_data(as_text=True)
    assert token not in listing and "Sở Y tế" in listing
    from idp.clients import initial_access

    with app.app_context():
        row = initial_access.find_valid_token(token)
        assert row is not None and row.uses_left == 3
        token_id = row.id
    bad = client.post(path, data={"csrf_token": csrf_of(client, path), "expires_in": "forever"})
    assert bad.status_code == 400 and 'id="token-invalid"' in bad.get_data(as_text=True)
    revoke = f"{path}/{token_id}/revoke"
    assert 'id="confirm"' in client.get(revoke).get_data(as_text=True)
    assert client.post(revoke, data={"csrf_token": csrf_of(client, revoke)}).status_code == 302
    with app.app_context():
        assert initial_access.find_valid_token(token) is None
    assert [a[:2] for a in _audit(app, "registration_token.create")] == [(sub, str(token_id))]
    assert [a[:2] for a in _audit(app, "registration_token.revoke")] == [(sub, str(token_id))]


PAGES = [
    "/admin/clients",
    "/admin/clients/new",
    "/admin/clients/motcua",
    "/admin/clients/motcua/edit",
    "/admin/clients/motcua/rotate-secret",
    "/admin/clients/motcua/disable",
    "/admin/clients/motcua/enable",
    "/admin/clients/motcua/manifest.json",
    "/admin/clients/export.zip",
    "/admin/clients/import",
    "/admin/clients/registration-tokens",
    "/admin/clients/registration-tokens/1/revoke",
    "/admin/keys",
    "/admin/keys/rotate?alg=RS256",
    "/admin/deliveries",
    "/admin/deliveries/logout/retry",
    "/admin/deliveries/mail/retry",
]


def test_unit_admin_gets_403_and_an_audit_event_everywhere(app, client, make_user, make_unit):
    make_unit("HG.VT", kind="district")
    sub = make_unit_admin(app, make_user, client, "HG.VT", "it.vithanh@haugiang.gov.vn")
    insert_client(app, "motcua", {"redirect_uris": ["https://a.example/cb"]})
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    # A POST is refused the same way, and changes nothing.
    token = csrf_of(client, "/logout")
    for path in ("/admin/clients/motcua/disable", "/admin/keys/rotate?alg=RS256"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert _client_row(app, "motcua").active is True
    denied = _audit(app, "admin.denied")
    assert len(denied) == len(PAGES) + 2
    assert {actor for actor, _, _ in denied} == {sub}
    # The menu does not offer what they cannot open.
    home = client.get("/admin/").get_data(as_text=True)
    assert "/admin/clients" not in home and "/admin/keys" not in home


def test_super_admin_menu_offers_applications_keys_and_deliveries(app, client, make_user):
    make_admin(app, make_user, client)
    home = client.get("/admin/").get_data(as_text=True)
    for path in ("/admin/clients", "/admin/keys", "/admin/deliveries"):
        assert f'href="{path}"' in home


def test_a_disabled_client_gets_no_tokens_and_its_tokens_are_inactive(app, client, make_user):
    from helpers.clients import make_machine_client
    from helpers.oidc_flow import basic

    make_admin(app, make_user, client)
    make_machine_client(app, "lgsp", "lgsp.read")
    http = app.test_client()
    grant = {"grant_type": "client_credentials", "scope": "lgsp.read"}
    issued = http.post("/oauth2/token", data=grant, headers=basic("lgsp"))
    assert issued.status_code == 200
    token = issued.get_json()["access_token"]
    introspect = {"token": token}
    assert http.post("/oauth2/introspect", data=introspect, headers=basic("lgsp")).get_json()[
        "active"
    ]
    make_machine_client(app, "rs", "x", resource_server_audiences=["lgsp"])
    before = http.post("/oauth2/introspect", data=introspect, headers=basic("rs"))
    assert before.get_json()["active"] is True
    path = "/admin/clients/lgsp/disable"
    client.post(path, data={"csrf_token": csrf_of(client, path)})
    refused = http.post("/oauth2/token", data=grant, headers=basic("lgsp"))
    assert refused.status_code == 401
    # Another resource server asking about the disabled client's token hears it is inactive.
    answer = http.post("/oauth2/introspect", data=introspect, headers=basic("rs"))
    assert answer.get_json() == {"active": False}


def test_errors_are_explained_in_the_readers_language(app, client, make_user):
    make_admin(app, make_user, client)
    bad = {**WEB, "client_id": "motcua", "redirect_uris": "javascript:alert(1)"}
    vietnamese = register(client, bad).get_data(as_text=True)
    assert "Mỗi dòng một địa chỉ đầy đủ" in vietnamese
    client.get("/lang/en")
    english = register(client, bad).get_data(as_text=True)
    assert "One full address per line" in english
    assert "Not saved: please correct the marked fields." in english


def test_admin_automation_is_set_in_the_console_under_the_same_rules(app, client, make_user):
    make_admin(app, make_user, client)
    machine = {
        "client_id": "tudong",
        "client_name": "Công cụ tự động",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["client_credentials"],
        "admin_automation": "1",
    }
    refused = register(client, {**machine, "scope": "lgsp.read"})
    assert refused.status_code == 400
    assert 'id="admin_automation-error"' in refused.get_data(as_text=True)
    assert _client_row(app, "tudong") is None
    made = register(client, {**machine, "scope": "admin:read"})
    assert made.status_code == 200
    assert _client_row(app, "tudong").client_metadata["admin_automation"] is True
