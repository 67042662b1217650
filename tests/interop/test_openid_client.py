"""Interoperability: openid-client (npm, a certified relying-party library nobody here wrote)
against the provider served on 127.0.0.1, on SQLite and PostgreSQL.

openid-client discovers the provider, runs the code flow with PKCE (the sign-in page is
driven with plain HTTP by tests/interop/node/rp.mjs), validates the ID token including its
signature against our JWKS and the RFC 9207 `iss`, calls userinfo, refreshes, introspects
and revokes. The package is installed from package-lock.json on first run; without network
the test is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

NODE_DIR = Path(__file__).parent / "node"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EMAIL = "tran.thi.lan@haugiang.gov.vn"
PASSWORD = "Mật-khẩu-tương-tác-2026"
CLIENT_SECRET = "interop-secret-" + "z" * 40
REDIRECT_URI = "http://127.0.0.1:9/callback"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def openid_client() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        _unavailable("node and npm are needed for the openid-client interoperability test")
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        try:
            result = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            _unavailable("npm ci timed out (no network?)")
        if result.returncode != 0:
            _unavailable(f"npm ci failed (no network?): {result.stderr.strip()[-300:]}")
    return NODE_DIR


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_issuer(database_url):
    """The provider on a real HTTP server on 127.0.0.1, with one user and one client."""
    from idp import create_app

    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(
        {
            "ENV": "development",
            "ISSUER": issuer,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "interop-secret-key-that-is-long-enough-0123456789",
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "WARNING",
            # Fast password hashing for tests; production parameters are tested elsewhere.
            "ARGON2_MEMORY_KIB": 1024,
            "ARGON2_TIME_COST": 1,
            "ARGON2_PARALLELISM": 1,
        }
    )
    _seed(app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        with app.app_context():
            from idp.extensions import db

            db.session.remove()
            db.engine.dispose()


def _seed(app) -> None:
    from idp.clients.models import Client, hash_secret
    from idp.directory.models import User
    from idp.directory.passwords import hash_password
    from idp.directory.store import set_addresses
    from idp.extensions import db

    with app.test_request_context():
        user = User(
            family_name="Trần",
            middle_name="Thị",
            given_name="Lan",
            password_hash=hash_password(PASSWORD),
        )
        set_addresses(user, EMAIL, [])
        db.session.add(user)
        db.session.add(
            Client(
                client_id="interop",
                client_secret_hash=hash_secret(CLIENT_SECRET),
                client_metadata={
                    "client_name": "openid-client",
                    "redirect_uris": [REDIRECT_URI],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                    "scope": "openid profile email org offline_access",
                },
                first_party=True,
            )
        )
        db.session.commit()


def test_openid_client_signs_in_refreshes_and_calls_userinfo(openid_client, live_issuer):
    arguments = {
        "issuer": live_issuer,
        "client_id": "interop",
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        "email": EMAIL,
        "password": PASSWORD,
    }
    result = subprocess.run(
        ["node", "rp.mjs", json.dumps(arguments)],
        cwd=openid_client,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["server"]["issuer"] == live_issuer
    assert out["iss_in_callback"] == live_issuer
    claims = out["id_token_claims"]
    assert claims["iss"] == live_issuer and claims["aud"] == "interop"
    assert claims["email"] == EMAIL and claims["family_name"] == "Trần"
    assert claims["acr"] == "urn:hg:loa:1" and claims["amr"] == ["pwd"]
    assert out["userinfo"]["sub"] == claims["sub"]
    assert out["userinfo"]["name"] == "Trần Thị Lan"
    assert out["refreshed_claims"]["sub"] == claims["sub"]
    assert out["refreshed_claims"]["auth_time"] == claims["auth_time"]
    assert out["introspection"]["active"] is True
    assert out["introspection"]["client_id"] == "interop"
    # Revoking the refresh token ended its grant, and the replayed first token is refused.
    assert out["after_revocation"]["active"] is False
    assert out["reuse"] == "invalid_grant"
    assert set(out["scope"].split()) == {"openid", "profile", "email", "org", "offline_access"}
