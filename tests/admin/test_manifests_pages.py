"""Export and import of the clients/ manifests in the console: the files `idp clients apply`
reads, and the same plan and apply (dry run first, then confirmed)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import sqlalchemy as sa
from helpers.admin import make_admin
from helpers.pages import csrf_of

REPO_CLIENTS = Path(__file__).resolve().parents[2] / "clients"
MANIFEST = {
    "client_id": "baocao",
    "client_name": "Báo cáo kinh tế - xã hội",
    "redirect_uris": ["https://baocao.haugiang.gov.vn/auth/callback"],
    "grant_types": ["authorization_code"],
    "scope": "openid profile email",
    "first_party": True,
}


def _client(app, client_id):
    from idp.clients.models import Client
    from idp.extensions import db

    with app.app_context():
        row = db.session.scalar(sa.select(Client).where(Client.client_id == client_id))
        if row is not None:
            db.session.expunge(row)
        return row


def upload(client, files: dict[str, bytes]):
    path = "/admin/clients/import"
    data = {"csrf_token": csrf_of(client, path)}
    data["manifests"] = [(io.BytesIO(body), name) for name, body in files.items()]
    return client.post(path, data=data, content_type="multipart/form-data")


def confirm(client, preview_html: str):
    path = "/admin/clients/import"
    names = re.findall(r'name="manifest_name" value="([^"]*)"', preview_html)
    bodies = re.findall(r'name="manifest_body" value="([^"]*)"', preview_html)
    return client.post(
        path,
        data={
            "csrf_token": csrf_of(client, path),
            "confirm": "1",
            "manifest_name": names,
            "manifest_body": bodies,
        },
    )


def test_import_previews_then_applies_and_shows_a_new_secret_once(app, client, make_user):
    sub = make_admin(app, make_user, client)
    preview = upload(client, {"baocao.json": json.dumps(MANIFEST).encode()})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "Chạy thử" in html and "sẽ tạo" in html
    assert _client(app, "baocao") is None  # a dry run stores nothing
    done = confirm(client, html)
    result = done.get_data(as_text=True)
    assert "đã tạo" in result
    secret = re.search(r'<code class="client-secret">([^<]+)</code>', result)[1]
    row = _client(app, "baocao")
    assert row.source == "manifest" and row.first_party and row.check_client_secret(secret)
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        actors = db.session.scalars(
            sa.select(AuditEvent.actor).where(AuditEvent.action == "client.create")
        ).all()
    assert actors == [sub]
    # Applying the same file again changes nothing.
    again = upload(client, {"baocao.json": json.dumps(MANIFEST).encode()})
    assert "không đổi" in again.get_data(as_text=True)


def test_a_bad_file_is_reported_and_the_others_apply(app, client, make_user):
    make_admin(app, make_user, client)
    bad = {**MANIFEST, "client_id": "xau", "redirect_uris": ["javascript:alert(1)"]}
    preview = upload(
        client,
        {"baocao.json": json.dumps(MANIFEST).encode(), "xau.json": json.dumps(bad).encode()},
    )
    html = preview.get_data(as_text=True)
    assert "redirect_uris" in html and "lỗi" in html
    confirm(client, html)
    assert _client(app, "baocao") is not None
    assert _client(app, "xau") is None


def test_the_repository_manifests_import_as_the_cli_applies_them(app, client, make_user):
    make_admin(app, make_user, client)
    files = {p.name: p.read_bytes() for p in sorted(REPO_CLIENTS.glob("*.toml"))}
    preview = upload(client, files)
    html = preview.get_data(as_text=True)
    assert html.count("sẽ tạo") == len(files), html[html.find("import-report") :][:3000]
    confirm(client, html)
    assert _client(app, "webmail").first_party is True


def test_export_is_what_idp_clients_apply_reads_back(app, client, make_user, runner, tmp_path):
    make_admin(app, make_user, client)
    path = "/admin/clients/new"
    made = client.post(
        path,
        data={
            "csrf_token": csrf_of(client, path),
            "client_id": "motcua",
            "client_name": "Một cửa",
            "redirect_uris": "https://motcua.example/cb",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
        },
    )
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', made.get_data(as_text=True))[1]
    one = client.get("/admin/clients/motcua/manifest.json")
    assert one.status_code == 200
    assert "attachment" in one.headers["Content-Disposition"]
    manifest = json.loads(one.get_data(as_text=True))
    assert manifest["client_id"] == "motcua"
    assert manifest["client_secret_env"] == "RP_MOTCUA_CLIENT_SECRET"
    archive = zipfile.ZipFile(io.BytesIO(client.get("/admin/clients/export.zip").data))
    assert archive.namelist() == ["clients/motcua.json"]
    archive.extractall(tmp_path)
    # The CLI takes the client over (source) and changes nothing else; then it is unchanged.
    first = runner.invoke(args=["clients", "apply", str(tmp_path / "clients"), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["files"][0]["status"] == "updated"
    assert report["files"][0]["changed"] == ["source"]
    second = runner.invoke(args=["clients", "apply", str(tmp_path / "clients"), "--json"])
    assert json.loads(second.output)["summary"]["unchanged"] == 1
    assert _client(app, "motcua").check_client_secret(secret)


def test_import_without_files_is_refused(app, client, make_user):
    make_admin(app, make_user, client)
    path = "/admin/clients/import"
    answer = client.post(path, data={"csrf_token": csrf_of(client, path)})
    assert answer.status_code == 400
    assert 'id="import-refused"' in answer.get_data(as_text=True)
