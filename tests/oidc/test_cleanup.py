"""`idp cleanup`: expired protocol rows go, live ones stay."""

from __future__ import annotations

import json

from helpers.db import count_rows, move_back


def test_cleanup_removes_only_what_can_no_longer_matter(app, rp, runner):
    from idp.oidc.token_models import AuthorizationCode, Grant, RefreshToken, Revocation

    old = rp.tokens(scope="openid offline_access")
    rp.revoke(old["access_token"])
    move_back(app, AuthorizationCode, expires_at=3600)
    move_back(app, RefreshToken, expires_at=400 * 24 * 3600)
    move_back(app, Grant, expires_at=400 * 24 * 3600)
    move_back(app, Revocation, expires_at=3600)
    live = rp.tokens(scope="openid offline_access")

    result = runner.invoke(args=["cleanup", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["codes"] == 1 and counts["grants"] == 1 and counts["revocations"] == 1
    assert count_rows(app, AuthorizationCode) == 1 and count_rows(app, Grant) == 1
    assert count_rows(app, RefreshToken) == 1 and count_rows(app, Revocation) == 0
    # What is still live keeps working.
    assert rp.refresh(live["refresh_token"]).status_code == 200
    assert rp.refresh(old["refresh_token"]).get_json()["error"] == "invalid_grant"

    again = runner.invoke(args=["cleanup"])
    assert again.exit_code == 0 and "codes" in again.output


def test_a_used_code_is_kept_a_while_so_its_replay_still_revokes(app, rp, runner):
    from idp.oidc.token_models import AuthorizationCode

    flow = rp.code_flow()
    first = rp.exchange(flow).get_json()
    move_back(app, AuthorizationCode, expires_at=120)  # expired two minutes ago
    assert runner.invoke(args=["cleanup"]).exit_code == 0
    assert count_rows(app, AuthorizationCode) == 1
    assert rp.exchange(flow).get_json()["error"] == "invalid_grant"
    assert rp.introspect(first["access_token"]).get_json()["active"] is False
