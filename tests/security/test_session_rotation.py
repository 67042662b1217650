"""Signing in again in the same browser gives the SSO session a new cookie handle.

Attack: someone who saw the session cookie's handle earlier (a shared computer, a copied
cookie) waits for the person to sign in again or step up (prompt=login, max_age, a higher
acr) and then uses the old handle with the fresh auth_time. Defence: each sign-in issues a
new handle and the old one no longer finds the session (OWASP ASVS 4.0 3.2.1); the session
itself, its sid and its relying parties, stays.
"""

from __future__ import annotations

import sqlalchemy as sa

from idp.extensions import db
from idp.sessions.models import SsoSession


def _session(app) -> SsoSession:
    with app.app_context():
        [sso] = db.session.execute(sa.select(SsoSession)).scalars().all()
        db.session.expunge(sso)
        return sso


def test_signing_in_again_rotates_the_handle_and_the_old_one_is_dead(app, client, auth, make_user):
    make_user()
    auth.login()
    old = client.get_cookie("idp_sso").value
    first = _session(app)

    auth.login()
    new = client.get_cookie("idp_sso").value
    second = _session(app)

    assert new != old
    assert second.sid == first.sid and second.id == first.id
    assert second.auth_time >= first.auth_time
    # The browser with the new handle is signed in ...
    assert client.get("/account/").status_code == 200
    # ... a browser holding the old handle is not.
    stale = app.test_client()
    stale.set_cookie("idp_sso", old)
    response = stale.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_kept_sign_in_stays_kept_after_signing_in_again(app, client, auth, make_user):
    make_user()
    auth.login(remember=True)
    auth.login()
    cookie = client.get_cookie("idp_sso")
    assert cookie.expires is not None  # still a persistent cookie
    assert _session(app).remember
