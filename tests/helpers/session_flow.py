"""SSO sessions: browsers signed in with the test client, relying parties opened with the
browser's session, and sessions moved into the past."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import sqlalchemy as sa

from helpers.clients import REDIRECT_URI
from helpers.db import move_back
from helpers.pages import sign_in
from helpers.people import EMAIL


def signed_in_browser(app, email: str = EMAIL, user_agent: str | None = None):
    """A new browser (a Flask test client) signed in as `email` with make_user's password."""
    http = app.test_client()
    if user_agent is not None:
        http.environ_base["HTTP_USER_AGENT"] = user_agent
    response = sign_in(http, email)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return http


def sign_in_to(http, client_id: str) -> str:
    """Open a relying party with the browser's SSO session: it gets a code (and would get
    an ID token), so it is recorded as a client of the session. Returns the code."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    response = http.get("/oauth2/authorize?" + urlencode(params))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def age_sessions(app, seconds: float) -> None:
    """Every SSO session signed in `seconds` earlier than it was (each method too)."""
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    move_back(app, SsoSession, auth_time=seconds)
    with app.app_context():
        for sso in db.session.execute(sa.select(SsoSession)).scalars():
            if sso.auth_times:
                sso.auth_times = {m: int(t - seconds) for m, t in sso.auth_times.items()}
        db.session.commit()
