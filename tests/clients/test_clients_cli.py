"""`idp clients ...` and `idp registration-token ...`: every command and its error paths."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from helpers.cli import one_line_error
from helpers.clients import client_row, count_clients

from idp.audit import AuditEvent
from idp.clients.models import InitialAccessToken
from idp.extensions import db

WEBMAIL = [
    "clients", "create", "--client-id", "webmail", "--name", "Thư điện tử công vụ",
    "--redirect-uri", "https://mail.haugiang.gov.vn/oidc/callback",
    "--post-logout-redirect-uri", "https://mail.haugiang.gov.vn/",
    "--grant-type", "authorization_code", "--grant-type", "refresh_token",
    "--scope", "openid profile email org offline_access", "--first-party",
]  # fmt: skip


def run(runner, *args, code: int = 0):
    result = runner.invoke(args=list(args))
    assert result.exit_code == code, (result.output, result.stderr)
    return result


def run_json(runner, *args):
    return json.loads(run(runner, *args, "--json").stdout)


def raw_rows(app, table: str) -> list[str]:
    """Every stored value of `table`, as text, to look for plaintext secrets."""
    with app.app_context():
        rows = db.session.execute(sa.text(f"SELECT * FROM {table}")).all()
        return [str(value) for row in rows for value in row]


def test_create_shows_the_secret_once_and_stores_only_its_hash(app, runner):
    result = run(runner, *WEBMAIL)
    secret = next(
        line.split(": ", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("client_secret: ")
    )
    assert len(secret) >= 43  # 256 random bits
    assert "shown only once" in result.stderr
    row = client_row(app, "webmail")
    assert row.client_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in value for value in raw_rows(app, "oauth_clients"))
    assert not any(secret in value for value in raw_rows(app, "audit_events"))
    assert row.check_client_secret(secret) and not row.check_client_secret(secret + "x")
    assert row.first_party and row.active and row.source == "cli"
    assert row.client_metadata["grant_types"] == ["authorization_code", "refresh_token"]
    assert row.client_metadata["client_name"] == "Thư điện tử công vụ"
    for args in (("clients", "show", "webmail"), ("clients", "show", "webmail", "--json"),
                 ("clients", "list"), ("clients", "list", "--json")):  # fmt: skip
        shown = run(runner, *args).stdout
        assert secret not in shown and row.client_secret_hash not in shown
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="client.create").one()
        assert event.subject == "webmail" and event.actor.startswith("cli:")


def test_create_json_output(app, runner):
    data = run_json(runner, *WEBMAIL)
    assert data["client_id"] == "webmail" and data["client_secret"]
    assert data["token_endpoint_auth_method"] == "client_secret_basic"
    assert client_row(app, "webmail").check_client_secret(data["client_secret"])


def test_create_with_a_random_client_id(app, runner):
    data = run_json(runner, "clients", "create", "--redirect-uri", "https://rp.example/cb")
    assert len(data["client_id"]) >= 20 and client_row(app, data["client_id"]) is not None


def test_generated_client_ids_can_be_given_on_the_command_line():
    """A generated identifier never starts with '-' (read as an option by the CLI) or '_'.
    One random URL-safe identifier in 32 would."""
    from idp.clients.service import CLIENT_ID_PATTERN, generate_client_id

    ids = {generate_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i[0].isalnum() and len(i) == 32 and CLIENT_ID_PATTERN.match(i) for i in ids)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redirect-uri", "https://rp.example/cb#frag"], "fragment"),
        (["--redirect-uri", "http://rp.example/cb"], "must use https"),
        (["--redirect-uri", "javascript:alert(1)"], "not allowed"),
        (["--redirect-uri", "vn.gov.haugiang.app:/cb"], "native applications"),
        (["--redirect-uri", "not a uri"], "spaces"),
        ([], "redirect_uris: at least one is required"),
        (["--redirect-uri", "https://rp.example/cb", "--grant-type", "implicit"], "'implicit'"),
        (["--redirect-uri", "https://rp.example/cb", "--grant-type", "password"], "not supported"),
        (["--redirect-uri", "https://rp.example/cb", "--response-type", "token"], "'token'"),
        (
            ["--redirect-uri", "https://rp.example/cb", "--auth-method", "client_secret_jwt"],
            "not supported",
        ),
        (
            ["--redirect-uri", "https://rp.example/cb", "--auth-method", "private_key_jwt"],
            "needs jwks or jwks_uri",
        ),
        (["--grant-type", "client_credentials", "--auth-method", "none"], "public clients"),
        (["--redirect-uri", "https://rp.example/cb", "--scope", 'openid bad"scope'], "scope"),
        (["--redirect-uri", "https://rp.example/cb", "--acr", "LoA9"], "default_acr_values"),
        (
            ["--redirect-uri", "https://rp.example/cb", "--metadata", '{"colour": "blue"}'],
            "colour: unknown client metadata field",
        ),
        (["--redirect-uri", "https://rp.example/cb", "--metadata", "{not json"], "not valid JSON"),
        (["--redirect-uri", "https://rp.example/cb", "--metadata", "[1]"], "JSON object"),
        (
            ["--redirect-uri", "https://rp.example/cb", "--metadata", "@/nonexistent/file.json"],
            "cannot read",
        ),
        (["--client-id", "has space", "--redirect-uri", "https://rp.example/cb"], "client_id"),
        (
            ["--redirect-uri", "https://rp.example/cb", "--metadata", '{"client_secret": "x"}'],
            "secrets are generated",
        ),
    ],
)
def test_create_refuses_bad_metadata_and_stores_nothing(app, runner, args, message):
    client_id = [] if "--client-id" in args else ["--client-id", "rp"]
    result = runner.invoke(args=["clients", "create", *client_id, *args])
    error = one_line_error(result)
    assert message in error
    assert count_clients(app) == 0


def test_create_refuses_a_taken_client_id(app, runner):
    run(runner, *WEBMAIL)
    error = one_line_error(runner.invoke(args=WEBMAIL))
    assert "already exists" in error and count_clients(app) == 1


def test_native_public_client_has_no_secret(app, runner):
    data = run_json(
        runner, "clients", "create", "--client-id", "haugiang-app", "--application-type", "native",
        "--auth-method", "none", "--redirect-uri", "vn.gov.haugiang.app:/oauth2redirect",
        "--redirect-uri", "http://127.0.0.1/oauth2redirect",
        "--grant-type", "authorization_code", "--grant-type", "refresh_token",
    )  # fmt: skip
    assert "client_secret" not in data
    row = client_row(app, "haugiang-app")
    assert row.client_secret_hash is None and row.is_public
    assert "offline_access" in row.scope.split()
    error = one_line_error(runner.invoke(args=["clients", "rotate-secret", "haugiang-app"]))
    assert "has no client secret" in error


def test_machine_client(app, runner):
    data = run_json(
        runner, "clients", "create", "--client-id", "lgsp", "--grant-type", "client_credentials",
        "--scope", "lgsp.read", "--audience", "https://lgsp.haugiang.gov.vn",
    )  # fmt: skip
    row = client_row(app, "lgsp")
    assert row.check_client_secret(data["client_secret"])
    assert row.response_types == [] and row.redirect_uris == []
    assert row.audiences == ["https://lgsp.haugiang.gov.vn"] and row.scope == "lgsp.read"


@pytest.mark.parametrize(
    "command",
    [["show"], ["update", "--name", "x"], ["rotate-secret"], ["disable"], ["enable"]],
)
def test_unknown_client(app, runner, command):
    error = one_line_error(runner.invoke(args=["clients", command[0], "nope", *command[1:]]))
    assert error == "Error: no client with client_id 'nope'"


def test_list(app, runner):
    assert run(runner, "clients", "list").stdout.strip() == "no clients registered"
    run(runner, *WEBMAIL)
    run(
        runner,
        "clients",
        "create",
        "--client-id",
        "cms",
        "--redirect-uri",
        "https://cms.example/cb",
    )
    run(runner, "clients", "disable", "cms")
    lines = run(runner, "clients", "list").stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["cms", "disabled"], ["webmail", "enabled"]]
    data = run_json(runner, "clients", "list")
    assert [c["client_id"] for c in data] == ["cms", "webmail"]
    assert all("client_secret_hash" not in c and c["has_secret"] for c in data)


def test_show(app, runner):
    run(runner, *WEBMAIL)
    text = run(runner, "clients", "show", "webmail").stdout
    assert "name: Thư điện tử công vụ" in text
    assert "client_secret: set (stored hashed)" in text
    assert "  - https://mail.haugiang.gov.vn/oidc/callback" in text
    data = run_json(runner, "clients", "show", "webmail")
    assert data["redirect_uris"] == ["https://mail.haugiang.gov.vn/oidc/callback"]
    assert data["first_party"] is True and data["active"] is True


def test_update_changes_only_what_is_given(app, runner):
    run(runner, *WEBMAIL)
    before = client_row(app, "webmail")
    result = run(
        runner, "clients", "update", "webmail", "--redirect-uri", "https://mail.haugiang.gov.vn/cb2",
        "--access-token-ttl", "600", "--third-party",
    )  # fmt: skip
    assert result.stdout.strip() == (
        "webmail: redirect_uris, first_party, access_token_ttl updated"
    )
    after = client_row(app, "webmail")
    assert after.redirect_uris == ["https://mail.haugiang.gov.vn/cb2"]
    assert after.access_token_ttl == 600 and not after.first_party
    assert after.client_secret_hash == before.client_secret_hash
    assert after.post_logout_redirect_uris == before.post_logout_redirect_uris
    again = run(
        runner, "clients", "update", "webmail", "--redirect-uri", "https://mail.haugiang.gov.vn/cb2"
    )
    assert again.stdout.strip() == "webmail: unchanged"
    run(runner, "clients", "update", "webmail", "--unset", "post_logout_redirect_uris")
    assert client_row(app, "webmail").post_logout_redirect_uris == []


def test_update_with_bad_values_leaves_the_client_as_it_was(app, runner):
    run(runner, *WEBMAIL)
    before = client_row(app, "webmail")
    bad = (
        ["--redirect-uri", "https://x.example/#f"],
        ["--grant-type", "implicit"],
        ["--metadata", '{"jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}}'],
        ["--auth-method", "nonsense"],
        ["--grant-type", "authorization_code"],  # the scope still has offline_access
    )
    for args in bad:
        one_line_error(runner.invoke(args=["clients", "update", "webmail", *args]))
    after = client_row(app, "webmail")
    assert after.client_metadata == before.client_metadata
    assert after.updated_at == before.updated_at


def test_update_grant_types_recomputes_response_types(app, runner):
    run(
        runner,
        "clients",
        "create",
        "--client-id",
        "svc",
        "--redirect-uri",
        "https://svc.example/cb",
    )
    run(runner, "clients", "update", "svc", "--grant-type", "client_credentials", "--scope", "api")
    row = client_row(app, "svc")
    assert row.grant_types == ["client_credentials"] and row.response_types == []


def test_update_auth_method_moves_the_secret(app, runner):
    run(runner, *WEBMAIL)
    data = run_json(runner, "clients", "update", "webmail", "--auth-method", "none")
    assert "client_secret" not in data and client_row(app, "webmail").client_secret_hash is None
    data = run_json(runner, "clients", "update", "webmail", "--auth-method", "client_secret_post")
    assert data["changed"] == ["token_endpoint_auth_method", "client_secret"]
    assert client_row(app, "webmail").check_client_secret(data["client_secret"])


def test_rotate_secret_invalidates_the_old_one(app, runner):
    old = run_json(runner, *WEBMAIL)["client_secret"]
    new = run_json(runner, "clients", "rotate-secret", "webmail")["client_secret"]
    assert new != old
    row = client_row(app, "webmail")
    assert row.check_client_secret(new) and not row.check_client_secret(old)
    text = run(runner, "clients", "rotate-secret", "webmail")
    newest = text.stdout.split("client_secret: ", 1)[1].split()[0]
    row = client_row(app, "webmail")
    assert row.check_client_secret(newest) and not row.check_client_secret(new)
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="client.rotate_secret").count() == 2


def test_disable_and_enable(app, runner):
    run(runner, *WEBMAIL)
    assert run(runner, "clients", "disable", "webmail").stdout.strip() == "webmail: disabled"
    assert client_row(app, "webmail").active is False
    assert (
        run(runner, "clients", "disable", "webmail").stdout.strip() == "webmail: already disabled"
    )
    with app.app_context():
        from idp.clients.store import find_active_client

        assert find_active_client("webmail") is None
    assert run(runner, "clients", "enable", "webmail").stdout.strip() == "webmail: enabled"
    assert client_row(app, "webmail").active is True
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
        assert actions == ["client.create", "client.disable", "client.enable"]


# ---- registration tokens


def test_registration_token_create_list_revoke(app, runner):
    data = run_json(runner, "registration-token", "create", "--expires-in", "7d", "--uses", "3",
                    "--note", "Sở Y tế: hệ thống đặt lịch khám")  # fmt: skip
    token = data["token"]
    assert data["uses_left"] == 3 and data["note"] == "Sở Y tế: hệ thống đặt lịch khám"
    assert not any(token in value for value in raw_rows(app, "initial_access_tokens"))
    with app.app_context():
        row = db.session.get(InitialAccessToken, data["id"])
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    listing = run(runner, "registration-token", "list").stdout
    assert token not in listing and "valid" in listing and "3 left" in listing
    assert run_json(runner, "registration-token", "list")[0]["state"] == "valid"
    text = run(runner, "registration-token", "create", "--uses", "unlimited")
    assert "uses: unlimited" in text.stdout and "token: " in text.stdout
    result = run(runner, "registration-token", "revoke", str(data["id"]))
    assert result.stdout.strip() == f"registration token {data['id']} revoked"
    assert len(run_json(runner, "registration-token", "list")) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--expires-in", "soon"], "is not a duration"),
        (["create", "--expires-in", "0"], "between 1 second"),
        (["create", "--expires-in", "400d"], "between 1 second"),
        (["create", "--uses", "0"], "at least 1"),
        (["create", "--uses", "many"], "a number or 'unlimited'"),
        (["revoke", "42"], "no registration token with id 42"),
    ],
)
def test_registration_token_errors(app, runner, args, message):
    assert message in one_line_error(runner.invoke(args=["registration-token", *args]))
    with app.app_context():
        assert db.session.query(InitialAccessToken).count() == 0


def test_spent_registration_tokens_are_removed(app, runner):
    from datetime import timedelta

    from idp.clients import initial_access
    from idp.extensions import utcnow

    expired = run_json(runner, "registration-token", "create")["id"]
    used = run_json(runner, "registration-token", "create", "--uses", "1")["id"]
    kept = run_json(runner, "registration-token", "create", "--uses", "2")["id"]
    with app.app_context():
        db.session.get(InitialAccessToken, expired).expires_at = utcnow() - timedelta(seconds=1)
        db.session.get(InitialAccessToken, used).uses_left = 0
        db.session.commit()
    states = {t["id"]: t["state"] for t in run_json(runner, "registration-token", "list")}
    assert states == {expired: "expired", used: "used", kept: "valid"}
    with app.app_context():
        assert initial_access.remove_spent_tokens() == 2
        db.session.rollback()  # the caller's transaction: nothing removed without a commit
    # `idp cleanup` removes them.
    assert json.loads(run(runner, "cleanup", "--json").stdout)["initial_access_tokens"] == 2
    assert [t["id"] for t in run_json(runner, "registration-token", "list")] == [kept]
    # So does creating a token (opportunistic clean-up).
    with app.app_context():
        db.session.get(InitialAccessToken, kept).uses_left = 0
        db.session.commit()
    newest = run_json(runner, "registration-token", "create")["id"]
    assert [t["id"] for t in run_json(runner, "registration-token", "list")] == [newest]
