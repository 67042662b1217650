"""Replaying a spent authorization code (issue 8 review, finding 7, growth).

Every replay of a used code wrote one `code_reuse` audit row and revoked the family again:
100 replays in 0.7 s, 100 rows, by a public client that needs no secret. The first reuse
revokes what the code issued and is recorded (RFC 6749 4.1.2, RFC 9700 4.14.2); later
replays are just invalid_grant.
"""

from __future__ import annotations

import sqlalchemy as sa
from helpers.clients import make_client
from helpers.oidc_flow import RelyingParty


def _audit_count(app, event: str) -> int:
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == event)
        ).scalar_one()


def test_replaying_a_spent_code_is_recorded_and_revokes_once(app, rp):
    make_client(app, "mobile", auth_method="none", secret=None)
    mobile = RelyingParty(rp.http, "mobile", secret=None)
    flow = mobile.code_flow(scope="openid offline_access", pkce=True)
    first = mobile.exchange(flow)
    assert first.status_code == 200, first.get_json()
    tokens = first.get_json()
    for _ in range(50):
        again = mobile.exchange(flow)
        assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert _audit_count(app, "code_reuse") == 1
    assert rp.introspect(tokens["access_token"]).get_json()["active"] is False
    assert rp.introspect(tokens["refresh_token"]).get_json()["active"] is False
    refreshed = mobile.http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "mobile",
        },
    )
    assert refreshed.get_json()["error"] == "invalid_grant"
