"""Attacks on the console's applications pages (issue 11).

- A client secret appears on the one page that answers the POST making it, and nowhere
  else: no other page, no export, no audit event, no log line.
- Every change needs the form's CSRF token; without it nothing changes.
- An imported manifest cannot smuggle what the policy refuses (a secret, fields the
  provider does not implement, javascript: URIs, the server's environment variables).
- A unit administrator is refused (403 + admin.denied) even with a valid CSRF token.
"""

from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa
from helpers.admin import make_admin, make_unit_admin
from helpers.logs import idp_records
from helpers.pages import csrf_of

FORM = {
    "client_id": "motcua",
    "client_name": "Một cửa",
    "application_type": "web",
    "token_endpoint_auth_method": "client_secret_basic",
    "redirect_uris": "https://motcua.haugiang.gov.vn/cb",
    "grant_types": "authorization_code",
}
SECRET = re.compile(r'<code id="client-secret">([^<]+)</code>')


def _all_audit_text(app) -> str:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail)
        ).all()
    return json.dumps([list(r) for r in rows], ensure_ascii=False, default=str)


def _client(app, client_id: str):
    from idp.clients.models import Client
    from idp.extensions import db

    with app.app_context():
        row = db.session.scalar(sa.select(Client).where(Client.client_id == client_id))
        if row is not None:
            db.session.expunge(row)
        return row


def test_a_secret_is_shown_once_and_nowhere_else(app, client, make_user, caplog):
    caplog.set_level("DEBUG")
    make_admin(app, make_user, client)
    made = client.post(
        "/admin/clients/new", data={**FORM, "csrf_token": csrf_of(client, "/admin/clients/new")}
    )
    first = SECRET.search(made.get_data(as_text=True))[1]
    assert made.headers["Cache-Control"] == "no-store"
    rotate = "/admin/clients/motcua/rotate-secret"
    rotated = client.post(rotate, data={"csrf_token": csrf_of(client, rotate)})
    second = SECRET.search(rotated.get_data(as_text=True))[1]
    assert first != second
    stored_hash = _client(app, "motcua").client_secret_hash
    pages = [
        "/admin/clients",
        "/admin/clients/motcua",
        "/admin/clients/motcua/edit",
        "/admin/clients/motcua/rotate-secret",
        "/admin/clients/motcua/disable",
        "/admin/clients/motcua/manifest.json",
        "/admin/clients/export.zip",
        "/admin/deliveries",
        "/admin/",
    ]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        for value in (first, second, stored_hash):
            assert value.encode() not in answer.data, path
    audit_text = _all_audit_text(app)
    for value in (first, second, stored_hash):
        assert value not in audit_text
    for record in idp_records(caplog):
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert first not in text and second not in text


def test_export_holds_no_secret_only_the_name_of_a_variable(app, client, make_user):
    make_admin(app, make_user, client)
    made = client.post(
        "/admin/clients/new", data={**FORM, "csrf_token": csrf_of(client, "/admin/clients/new")}
    )
    secret = SECRET.search(made.get_data(as_text=True))[1]
    manifest = client.get("/admin/clients/motcua/manifest.json").get_json()
    assert "client_secret" not in manifest and "client_secret_hash" not in manifest
    assert manifest["client_secret_env"] == "RP_MOTCUA_CLIENT_SECRET"
    assert secret not in json.dumps(manifest)


POST_ROUTES = [
    ("/admin/clients/new", FORM),
    ("/admin/clients/webmail/edit", {**FORM, "client_name": "Đã bị sửa"}),
    ("/admin/clients/webmail/rotate-secret", {}),
    ("/admin/clients/webmail/disable", {}),
    ("/admin/clients/import", {"confirm": "1", "manifest_name": "x.json", "manifest_body": ""}),
    ("/admin/clients/registration-tokens", {"expires_in": "1d"}),
    ("/admin/keys/rotate", {"alg": "RS256", "force": "1"}),
    ("/admin/deliveries/logout/retry", {}),
    ("/admin/deliveries/mail/retry", {}),
]


@pytest.mark.parametrize(("path", "form"), POST_ROUTES)
@pytest.mark.parametrize("token", ["missing", "forged", "another session's"])
def test_every_change_needs_the_csrf_token(app, client, make_user, path, form, token):
    from helpers.clients import insert_client

    from idp.audit import AuditEvent
    from idp.extensions import db

    make_admin(app, make_user, client)
    insert_client(app, "webmail", {"redirect_uris": ["https://a.example/cb"]}, secret="s" * 43)
    data = dict(form)
    if token == "forged":
        data["csrf_token"] = "IjAwMDAi.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"
    elif token == "another session's":
        other = app.test_client()
        data["csrf_token"] = csrf_of(other, "/login")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    answer = client.post(path, data=data)
    assert answer.status_code == 400
    row = _client(app, "webmail")
    assert row.active and row.check_client_secret("s" * 43) and row.client_name == "webmail"
    assert _client(app, "motcua") is None
    with app.app_context():
        after = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert after == before


SMUGGLED = [
    ({"client_secret": "chosen-by-the-uploader-" + "x" * 20}, "client_secret"),
    ({"client_secret_hash": "0" * 64}, "client_secret_hash"),
    ({"registration_access_token": "x"}, None),  # ignored, as RFC 7591 responses carry it
    ({"source": "dynamic"}, "source"),
    ({"request_uris": ["https://evil.example/r"]}, "request_uris"),
    ({"sector_identifier_uri": "https://evil.example/s"}, "sector_identifier_uri"),
    ({"redirect_uris": ["javascript:alert(1)"]}, "redirect_uris"),
    ({"redirect_uris": ["https://rp.example/cb#x"]}, "redirect_uris"),
    ({"redirect_uris": ["http://rp.example/cb"]}, "redirect_uris"),
    ({"backchannel_logout_uri": "file:///etc/passwd"}, "backchannel_logout_uri"),
    ({"first_party": "yes"}, "first_party"),
    ({"access_token_ttl": 10**12}, "access_token_ttl"),
]


def _upload(client, name: str, body: bytes):
    path = "/admin/clients/import"
    data = {"csrf_token": csrf_of(client, path), "manifests": [(io.BytesIO(body), name)]}
    return client.post(path, data=data, content_type="multipart/form-data")


def _confirm(client, preview: str):
    path = "/admin/clients/import"
    return client.post(
        path,
        data={
            "csrf_token": csrf_of(client, path),
            "confirm": "1",
            "manifest_name": re.findall(r'name="manifest_name" value="([^"]*)"', preview),
            "manifest_body": re.findall(r'name="manifest_body" value="([^"]*)"', preview),
        },
    )


@pytest.mark.parametrize(("extra", "field"), SMUGGLED)
def test_an_imported_manifest_cannot_smuggle_refused_fields(app, client, make_user, extra, field):
    make_admin(app, make_user, client)
    manifest = {
        "client_id": "lau",
        "redirect_uris": ["https://lau.example/cb"],
        **extra,
    }
    preview = _upload(client, "lau.json", json.dumps(manifest).encode()).get_data(as_text=True)
    _confirm(client, preview)
    row = _client(app, "lau")
    if field is None:
        assert row is not None and "registration_access_token" not in row.client_metadata
        assert row.registration_token_hash is None
        return
    assert field in preview
    assert row is None


def test_an_import_does_not_read_the_servers_environment(app, client, make_user, monkeypatch):
    make_admin(app, make_user, client)
    monkeypatch.setenv("IDP_TEST_SERVER_ONLY", "server-side-value-never-shown")
    monkeypatch.setenv("RP_LAU_CLIENT_SECRET", "a-server-side-secret-of-enough-length-000")
    manifest = (
        'client_id = "lau"\n'
        'client_name = "${IDP_TEST_SERVER_ONLY:-Tên mặc định}"\n'
        'redirect_uris = ["https://lau.example/cb"]\n'
        'client_secret_env = "RP_LAU_CLIENT_SECRET"\n'
    )
    preview = _upload(client, "lau.toml", manifest.encode()).get_data(as_text=True)
    done = _confirm(client, preview).get_data(as_text=True)
    assert "server-side-value-never-shown" not in preview + done
    row = _client(app, "lau")
    assert row.client_metadata["client_name"] == "Tên mặc định"
    # The variable is not read: a secret is generated and shown once instead.
    assert not row.check_client_secret("a-server-side-secret-of-enough-length-000")
    shown = re.search(r'<code class="client-secret">([^<]+)</code>', done)[1]
    assert row.check_client_secret(shown)


def test_a_reference_without_default_is_an_error_not_the_servers_value(
    app, client, make_user, monkeypatch
):
    make_admin(app, make_user, client)
    monkeypatch.setenv("IDP_TEST_SERVER_ONLY", "server-side-value-never-shown")
    manifest = 'client_id = "lau"\nredirect_uris = ["https://${IDP_TEST_SERVER_ONLY}/cb"]\n'
    preview = _upload(client, "lau.toml", manifest.encode()).get_data(as_text=True)
    assert "server-side-value-never-shown" not in preview
    assert "IDP_TEST_SERVER_ONLY is not set" in preview


def test_a_unit_administrator_is_refused_even_with_a_valid_token(app, client, make_user, make_unit):
    from helpers.clients import insert_client

    make_unit("HG.VT", kind="district")
    sub = make_unit_admin(app, make_user, client, "HG.VT", "it.vithanh@haugiang.gov.vn")
    insert_client(app, "webmail", {"redirect_uris": ["https://a.example/cb"]}, secret="s" * 43)
    token = csrf_of(client, "/logout")
    for path, form in POST_ROUTES:
        answer = client.post(path, data={**form, "csrf_token": token})
        assert answer.status_code == 403, path
    row = _client(app, "webmail")
    assert row.active and row.check_client_secret("s" * 43)
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        denied = (
            db.session.execute(
                sa.select(AuditEvent.actor).where(AuditEvent.action == "admin.denied")
            )
            .scalars()
            .all()
        )
    assert denied == [sub] * len(POST_ROUTES)
