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
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.ci import unavailable
from helpers.clients import insert_client
from helpers.live import LiveIdp, node_available, npm_ci

NODE_DIR = Path(__file__).parent / "node"
EMAIL = "tran.thi.lan@haugiang.gov.vn"
PASSWORD = "Mật-khẩu-tương-tác-2026"
CLIENT_SECRET = "interop-secret-" + "z" * 40
REDIRECT_URI = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="session")
def openid_client() -> Path:
    reason = node_available() or npm_ci(NODE_DIR, "openid-client")
    if reason:
        unavailable(reason)
    return NODE_DIR


@pytest.fixture
def live_issuer(database_url) -> Iterator[str]:
    """The provider on a real HTTP server on 127.0.0.1, with one user and one client."""
    idp = LiveIdp(database_url)
    try:
        idp.add_user(EMAIL, PASSWORD, family="Trần", middle="Thị", given="Lan")
        insert_client(
            idp.app,
            "interop",
            {
                "client_name": "openid-client",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": "openid profile email org offline_access",
            },
            secret=CLIENT_SECRET,
        )
        yield idp.issuer
    finally:
        idp.stop()


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
