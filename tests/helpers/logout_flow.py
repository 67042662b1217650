"""Helpers of the logout tests: clients with logout URIs, the end_session endpoint, the
outbox, and a relying party's checks of a logout token (Back-Channel Logout 1.0 2.6)."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from joserfc import jwt

from helpers.oidc_flow import ISSUER
from helpers.pages import csrf_token

END_SESSION = "/oauth2/logout"
POST_LOGOUT = "https://rp.example/logged-out"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"

# Logout tests decide themselves when deliveries run (worker) and where they may go.
LOGOUT_TEST_CONFIG = {"OUTBOUND_ALLOW_PRIVATE_TARGETS": True, "LOGOUT_DELIVER_IMMEDIATELY": False}


def set_metadata(app, client_id: str, **metadata: Any) -> None:
    """Add logout metadata to a registered client (straight in the database)."""
    from idp.clients.models import Client
    from idp.extensions import db

    with app.app_context():
        client = db.session.execute(
            sa.select(Client).where(Client.client_id == client_id)
        ).scalar_one()
        client.client_metadata = {**client.client_metadata, **metadata}
        db.session.commit()


def end_session(http, method: str = "GET", **params: Any):
    values = {k: v for k, v in params.items() if v is not None}
    if method == "POST":
        return http.post(END_SESSION, data=values)
    return http.get(END_SESSION + ("?" + urlencode(values) if values else ""))


def confirm(http, page) -> Any:
    """Press "Đăng xuất" on the confirmation page (its hidden fields and CSRF token)."""
    from html import unescape

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="logout_confirm"' in html, html[:800]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    data = {name: unescape(value) for name, value in fields}
    data["csrf_token"] = csrf_token(html)
    data["logout_confirm"] = "1"
    return http.post(END_SESSION, data=data)


def signed_in(http) -> bool:
    return http.get("/account/").status_code == 200


def run_worker(app, now=None) -> list[str]:
    """One `idp worker --once` round in-process; the statuses the attempts ended in."""
    from idp.sessions import worker

    with app.app_context():
        stats = worker.run(once=True, now=now, concurrency=4)
    return [s for s, n in stats.statuses.items() for _ in range(n)]


def deliveries(app) -> list[dict[str, Any]]:
    from idp.extensions import db
    from idp.sessions.models import LogoutDelivery

    with app.app_context():
        rows = db.session.execute(sa.select(LogoutDelivery).order_by(LogoutDelivery.id)).scalars()
        return [
            {c.name: getattr(r, c.name) for c in LogoutDelivery.__table__.columns} for r in rows
        ]


def later(row: dict[str, Any], seconds: float = 0):
    """A clock just past the row's next attempt (instead of waiting for it)."""
    return row["next_attempt_at"] + timedelta(seconds=seconds)


def header_of(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def validate_logout_token(rp, token: str, client_id: str, alg: str = "RS256") -> dict[str, Any]:
    """What a relying party checks (Back-Channel Logout 1.0 section 2.6)."""
    header = header_of(token)
    assert header["typ"] == "logout+jwt"
    assert header["alg"] == alg and "kid" in header
    claims = jwt.decode(token, rp.jwks(), algorithms=[alg]).claims
    now = time.time()
    assert claims["iss"] == ISSUER
    assert claims["aud"] == client_id
    assert isinstance(claims["iat"], int) and claims["iat"] <= now + 5
    assert claims["exp"] > now and claims["exp"] - claims["iat"] <= 120
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert "nonce" not in claims
    assert "sid" in claims or "sub" in claims
    return claims
