"""`idp clients apply DIR`: declarative manifests, idempotent, one bad file never stops the rest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.clients import initial_access_token, register_client

from idp.clients.models import Client
from idp.extensions import db

ROOT = Path(__file__).resolve().parents[2]

WEBMAIL = """\
client_id = "webmail"
client_name = "Thư điện tử công vụ"
redirect_uris = ["https://mail.haugiang.gov.vn/auth/callback"]
grant_types = ["authorization_code", "refresh_token"]
scope = "openid profile email org"
client_secret_env = "TEST_WEBMAIL_SECRET"
first_party = true
"""
LGSP = """\
client_id = "lgsp"
client_name = "LGSP"
grant_types = ["client_credentials"]
scope = "lgsp.read"
allowed_audiences = ["https://lgsp.haugiang.gov.vn"]
"""
APP_JSON = {
    "client_id": "haugiang-app",
    "client_name": "HauGiang App",
    "application_type": "native",
    "token_endpoint_auth_method": "none",
    "redirect_uris": ["vn.gov.haugiang.app:/oauth2redirect"],
}
SUPPLIED_SECRET = "a-secret-from-the-vault-0123456789-abcdef"


@pytest.fixture
def manifests(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("TEST_WEBMAIL_SECRET", raising=False)
    (tmp_path / "webmail.toml").write_text(WEBMAIL, encoding="utf-8")
    (tmp_path / "machines").mkdir()
    (tmp_path / "machines" / "lgsp.toml").write_text(LGSP, encoding="utf-8")
    (tmp_path / "haugiang-app.json").write_text(json.dumps(APP_JSON), encoding="utf-8")
    (tmp_path / "README.md").write_text("# not a manifest\n", encoding="utf-8")
    return tmp_path


def apply(runner, path: Path, *options: str, code: int = 0) -> dict:
    result = runner.invoke(args=["clients", "apply", str(path), "--json", *options])
    assert result.exit_code == code, (result.output, result.stderr)
    return json.loads(result.stdout)


def statuses(report: dict) -> dict[str, str]:
    return {f["path"]: f["status"] for f in report["files"]}


def clients(app) -> dict[str, Client]:
    with app.app_context():
        rows = db.session.execute(sa.select(Client)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return {row.client_id: row for row in rows}


def test_apply_twice_creates_then_reports_unchanged(app, runner, manifests):
    first = apply(runner, manifests)
    assert statuses(first) == {
        "haugiang-app.json": "created",
        "machines/lgsp.toml": "created",
        "webmail.toml": "created",
    }
    assert first["summary"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 0}
    secrets = {f["client_id"]: f.get("client_secret") for f in first["files"]}
    assert secrets["haugiang-app"] is None  # public client: no secret
    stored = clients(app)
    for client_id in ("webmail", "lgsp"):
        assert stored[client_id].check_client_secret(secrets[client_id])
        assert stored[client_id].source == "manifest"
    assert stored["webmail"].first_party and stored["lgsp"].audiences
    second = apply(runner, manifests)
    assert set(statuses(second).values()) == {"unchanged"}
    assert all("client_secret" not in f for f in second["files"])
    assert clients(app)["webmail"].updated_at == stored["webmail"].updated_at


def test_text_report(app, runner, manifests):
    result = runner.invoke(args=["clients", "apply", str(manifests)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "haugiang-app.json: created haugiang-app"
    assert "machines/lgsp.toml: created lgsp" in lines
    assert "  TEST_WEBMAIL_SECRET is not set: a secret was generated" in lines
    assert lines[-1] == "3 manifests: 3 created"
    assert "shown only once" in result.stderr
    again = runner.invoke(args=["clients", "apply", str(manifests)])
    assert again.stdout.splitlines()[-1] == "3 manifests: 3 unchanged"
    assert "client_secret" not in again.stdout


def test_secret_from_the_environment_is_never_printed(app, runner, manifests, monkeypatch):
    monkeypatch.setenv("TEST_WEBMAIL_SECRET", SUPPLIED_SECRET)
    result = runner.invoke(args=["clients", "apply", str(manifests)])
    assert result.exit_code == 0 and SUPPLIED_SECRET not in result.output
    webmail = clients(app)["webmail"]
    assert webmail.client_secret_hash == hashlib.sha256(SUPPLIED_SECRET.encode()).hexdigest()
    assert "webmail.toml: created webmail" in result.stdout.splitlines()
    # A new value in the variable rotates the secret; the same value changes nothing.
    monkeypatch.setenv("TEST_WEBMAIL_SECRET", SUPPLIED_SECRET + "-rotated")
    report = apply(runner, manifests)
    webmail_result = next(f for f in report["files"] if f["path"] == "webmail.toml")
    assert webmail_result["status"] == "updated" and webmail_result["changed"] == ["client_secret"]
    assert "client_secret" not in webmail_result
    webmail = clients(app)["webmail"]
    assert webmail.check_client_secret(SUPPLIED_SECRET + "-rotated")
    assert not webmail.check_client_secret(SUPPLIED_SECRET)
    assert set(statuses(apply(runner, manifests)).values()) == {"unchanged"}
    # Unset again: the stored secret stays as it is.
    monkeypatch.delenv("TEST_WEBMAIL_SECRET")
    assert set(statuses(apply(runner, manifests)).values()) == {"unchanged"}


def test_a_short_secret_in_the_environment_is_refused(app, runner, manifests, monkeypatch):
    monkeypatch.setenv("TEST_WEBMAIL_SECRET", "short")
    report = apply(runner, manifests, code=1)
    webmail = next(f for f in report["files"] if f["path"] == "webmail.toml")
    assert webmail["status"] == "error" and "at least 32" in webmail["message"]
    assert set(clients(app)) == {"lgsp", "haugiang-app"}


def test_changed_manifest_updates_only_what_changed(app, runner, manifests):
    apply(runner, manifests)
    before = clients(app)["webmail"]
    text = WEBMAIL.replace("auth/callback", "auth/cb2").replace("first_party = true\n", "")
    (manifests / "webmail.toml").write_text(text + "access_token_ttl = 300\n", encoding="utf-8")
    report = apply(runner, manifests)
    webmail = next(f for f in report["files"] if f["path"] == "webmail.toml")
    assert webmail["status"] == "updated"
    assert webmail["changed"] == ["redirect_uris", "first_party", "access_token_ttl"]
    after = clients(app)["webmail"]
    assert after.redirect_uris == ["https://mail.haugiang.gov.vn/auth/cb2"]
    assert not after.first_party and after.access_token_ttl == 300
    assert after.client_secret_hash == before.client_secret_hash


def test_manifest_takes_over_a_client_made_by_hand(app, runner, manifests):
    result = runner.invoke(
        args=[
            "clients",
            "create",
            "--client-id",
            "lgsp",
            "--grant-type",
            "client_credentials",
            "--scope",
            "old.scope",
        ]  # fmt: skip
    )
    assert result.exit_code == 0
    report = apply(runner, manifests)
    lgsp = next(f for f in report["files"] if f["client_id"] == "lgsp")
    assert lgsp["status"] == "updated" and "scope" in lgsp["changed"]
    assert clients(app)["lgsp"].source == "manifest"


def test_active_false_disables(app, runner, manifests):
    (manifests / "webmail.toml").write_text(WEBMAIL + "active = false\n", encoding="utf-8")
    apply(runner, manifests)
    assert clients(app)["webmail"].active is False
    (manifests / "webmail.toml").write_text(WEBMAIL + "active = true\n", encoding="utf-8")
    report = apply(runner, manifests)
    assert next(f for f in report["files"] if f["path"] == "webmail.toml")["changed"] == ["active"]
    assert clients(app)["webmail"].active is True


BAD_MANIFESTS = {
    "broken.toml": ('client_id = "x"\nredirect_uris = [', "cannot parse"),
    "fragment.toml": (
        'client_id = "frag"\nredirect_uris = ["https://rp.example/cb#x"]',
        "redirect_uris: 'https://rp.example/cb#x' has a fragment",
    ),
    "grant.toml": (
        'client_id = "grant"\nredirect_uris = ["https://rp.example/cb"]\n'
        'grant_types = ["implicit"]',
        "grant_types: 'implicit' is not supported",
    ),
    "typo.toml": (
        'client_id = "typo"\nredirect_uri = ["https://rp.example/cb"]',
        "redirect_uri: unknown client metadata field",
    ),
    "no-id.toml": ('redirect_uris = ["https://rp.example/cb"]', "client_id is required"),
    "secret.toml": (
        'client_id = "sec"\nclient_secret = "hunter2"\nredirect_uris = ["https://rp.example/cb"]',
        "client_secret does not belong in a manifest",
    ),
    "ttl.toml": (
        'client_id = "ttl"\nredirect_uris = ["https://rp.example/cb"]\naccess_token_ttl = "1h"',
        "access_token_ttl: must be a whole number of seconds",
    ),
    "dup.toml": ('client_id = "webmail"\nredirect_uris = ["https://x.example/cb"]', "also in"),
    "env.toml": (
        'client_id = "env"\nredirect_uris = ["${TEST_UNSET_BASE_URL}/cb"]',
        "environment variable TEST_UNSET_BASE_URL is not set",
    ),
    "list.json": ("[1, 2]", "a manifest must be a table"),
    "latin1.toml": (b'client_id = "l"\nclient_name = "Th\xf0"', "not UTF-8"),
    "old.yaml": ("client_id: x", "YAML manifests are not read"),
}


def test_bad_manifests_are_reported_and_the_others_still_apply(app, runner, manifests):
    for name, (content, _) in BAD_MANIFESTS.items():
        path = manifests / ("zz-" + name if name == "dup.toml" else name)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    report = apply(runner, manifests, code=1)
    results = {f["path"].removeprefix("zz-"): f for f in report["files"]}
    for name, (_, message) in BAD_MANIFESTS.items():
        assert results[name]["status"] == "error", name
        assert message in results[name]["message"], (name, results[name]["message"])
    assert report["summary"]["created"] == 3
    assert set(clients(app)) == {"webmail", "lgsp", "haugiang-app"}


def test_text_report_of_errors(app, runner, manifests):
    (manifests / "broken.toml").write_text("client_id = ", encoding="utf-8")
    result = runner.invoke(args=["clients", "apply", str(manifests)])
    assert result.exit_code == 1
    assert "broken.toml: error: cannot parse" in result.stderr
    assert result.stdout.splitlines()[-1] == "4 manifests: 3 created, 1 with errors"


def test_dry_run_changes_nothing(app, runner, manifests):
    report = apply(runner, manifests, "--dry-run")
    assert report["dry_run"] is True
    assert set(statuses(report).values()) == {"created"}
    assert all("client_secret" not in f for f in report["files"])
    assert clients(app) == {}
    apply(runner, manifests)
    (manifests / "webmail.toml").write_text(WEBMAIL.replace("org", "phone"), encoding="utf-8")
    report = apply(runner, manifests, "--dry-run")
    assert statuses(report)["webmail.toml"] == "updated"
    assert clients(app)["webmail"].scope == "openid profile email org"
    text = runner.invoke(args=["clients", "apply", str(manifests), "--dry-run"]).stdout
    assert "webmail.toml: would update webmail (scope)" in text
    assert (
        text.splitlines()[-1] == "dry run, nothing changed: 3 manifests: 1 to update, 2 unchanged"
    )


def test_environment_references(app, runner, tmp_path, monkeypatch):
    manifest = (
        'client_id = "cms"\n'
        'redirect_uris = ["${TEST_CMS_URL:-http://127.0.0.1:8105}/auth/callback"]\n'
    )
    (tmp_path / "cms.toml").write_text(manifest, encoding="utf-8")
    monkeypatch.delenv("TEST_CMS_URL", raising=False)
    apply(runner, tmp_path)
    assert clients(app)["cms"].redirect_uris == ["http://127.0.0.1:8105/auth/callback"]
    monkeypatch.setenv("TEST_CMS_URL", "https://cms.haugiang.gov.vn")
    apply(runner, tmp_path)
    assert clients(app)["cms"].redirect_uris == ["https://cms.haugiang.gov.vn/auth/callback"]


def test_a_single_file_can_be_applied(app, runner, manifests):
    report = apply(runner, manifests / "machines" / "lgsp.toml")
    assert statuses(report) == {"lgsp.toml": "created"}


def test_the_provinces_clients_directory_applies_cleanly(app, runner):
    directory = ROOT / "clients"
    report = apply(runner, directory)
    assert report["summary"]["error"] == 0, report
    created = {f["client_id"] for f in report["files"]}
    assert {
        "webmail",
        "dichvucong",
        "motcua",
        "qlvb",
        "congthongtin",
        "haugiang-app",
        "baocao-ktxh",
        "lgsp",
    } <= created
    stored = clients(app)
    app_client = stored["haugiang-app"]
    assert app_client.is_public and app_client.meta("application_type") == "native"
    assert "vn.gov.haugiang.app:/oauth2redirect" in app_client.redirect_uris
    assert "offline_access" in app_client.scope.split()
    assert stored["lgsp"].grant_types == ["client_credentials"] and stored["lgsp"].audiences
    assert stored["qlvb"].meta("default_acr_values") == ["urn:hg:loa:2"]
    assert stored["webmail"].client_name == "Thư điện tử công vụ"
    for client in stored.values():
        assert client.source == "manifest"
    again = apply(runner, directory)
    assert set(statuses(again).values()) == {"unchanged"}


def test_a_manifest_takes_a_dynamic_client_out_of_self_management(app, client, runner, tmp_path):
    token = initial_access_token(app)
    registered = register_client(client, token, redirect_uris=["https://rp.example/cb"])
    client_id = registered["client_id"]
    management = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    assert client.get(f"/oauth2/register/{client_id}", headers=management).status_code == 200
    (tmp_path / "rp.toml").write_text(
        f'client_id = "{client_id}"\nredirect_uris = ["https://rp.example/cb2"]\n', encoding="utf-8"
    )
    report = apply(runner, tmp_path)
    assert report["files"][0]["changed"] == ["redirect_uris", "source"]
    assert clients(app)[client_id].registration_token_hash is None
    assert client.get(f"/oauth2/register/{client_id}", headers=management).status_code == 401
    # The secret the client got at registration still works.
    assert clients(app)[client_id].check_client_secret(registered["client_secret"])
