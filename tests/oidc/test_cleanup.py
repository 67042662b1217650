"""`idp cleanup`: expired protocol rows go, live ones stay."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa


def _count(app, model) -> int:
    from idp.extensions import db

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _age(app, model, column: str, seconds: int) -> None:
    from idp.extensions import db

    with app.app_context():
        for row in db.session.execute(sa.select(model)).scalars():
            setattr(row, column, getattr(row, column) - timedelta(seconds=seconds))
        db.session.commit()


def test_cleanup_removes_only_what_can_no_longer_matter(app, rp, runner):
    from idp.oidc.token_models import AuthorizationCode, Grant, RefreshToken, Revocation

    old = rp.tokens(scope="openid offline_access")
    rp.revoke(old["access_token"])
    _age(app, AuthorizationCode, "expires_at", 3600)
    _age(app, RefreshToken, "expires_at", 400 * 24 * 3600)
    _age(app, Grant, "expires_at", 400 * 24 * 3600)
    _age(app, Revocation, "expires_at", 3600)
    live = rp.tokens(scope="openid offline_access")

    result = runner.invoke(args=["cleanup", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["codes"] == 1 and counts["grants"] == 1 and counts["revocations"] == 1
    assert _count(app, AuthorizationCode) == 1 and _count(app, Grant) == 1
    assert _count(app, RefreshToken) == 1 and _count(app, Revocation) == 0
    # What is still live keeps working.
    assert rp.refresh(live["refresh_token"]).status_code == 200
    assert rp.refresh(old["refresh_token"]).get_json()["error"] == "invalid_grant"

    again = runner.invoke(args=["cleanup"])
    assert again.exit_code == 0 and "codes" in again.output


def test_a_used_code_is_kept_a_while_so_its_replay_still_revokes(app, rp, runner):
    from idp.oidc.token_models import AuthorizationCode

    flow = rp.code_flow()
    first = rp.exchange(flow).get_json()
    _age(app, AuthorizationCode, "expires_at", 120)  # expired two minutes ago
    assert runner.invoke(args=["cleanup"]).exit_code == 0
    assert _count(app, AuthorizationCode) == 1
    assert rp.exchange(flow).get_json()["error"] == "invalid_grant"
    assert rp.introspect(first["access_token"]).get_json()["active"] is False
