"""An upstream's back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6),
at /login/upstream/<name>/backchannel-logout, on SQLite and PostgreSQL.

The keys are the national portal stand-in's (tests/upstreams/national_portal), fetched
from its JWKS over HTTP as in production; the tokens are signed with its private key, so
each attack changes exactly one thing in an otherwise valid token: a nonce, another
audience, no events claim, a replayed jti, an old iat, another issuer, a key that is not
the upstream's. None of them ends a session; a valid token does, with single sign-out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers.national_portal import (
    EVENT_BACKCHANNEL_LOGOUT,
    NationalPortal,
    national_portal_ready,
    portal_client,
    portal_settings,
)
from joserfc import jwt
from joserfc.jwk import RSAKey

from idp.audit import AuditEvent
from idp.directory.store import find_user_by_sub
from idp.extensions import db
from idp.sessions.models import SsoSession
from idp.sessions.store import start_session
from idp.upstreams import client as upstream_client
from idp.upstreams.models import UpstreamSession

CLIENT_ID = "haugiang-sso"
SECRET = "np-secret-" + "b" * 40
PORTAL_SUB = "np-7f3c2a10-an"
URL = "/login/upstream/national/backchannel-logout"


@pytest.fixture(scope="module")
def portal() -> Iterator[NationalPortal]:
    national_portal_ready()
    p = NationalPortal(
        [portal_client(CLIENT_ID, SECRET, redirect_uri="http://127.0.0.1:9/callback")]
    )
    yield p
    p.stop()


@pytest.fixture
def app_config(portal):
    return {
        "UPSTREAMS": {
            "national": portal_settings(portal.issuer, client_id=CLIENT_ID, secret=SECRET)
        }
    }


@pytest.fixture(autouse=True)
def fresh_key_cache():
    upstream_client.forget_cached()
    yield
    upstream_client.forget_cached()


def open_upstream_session(app, sub: str, upstream_sid: str, upstream: str = "national") -> str:
    """An SSO session the stand-in (or `upstream`) started for our person `sub`: its sid."""
    with app.app_context():
        user = find_user_by_sub(sub)
        _handle, sso = start_session(user, amr=["ext"], acr="urn:hg:loa:2")
        db.session.flush()
        db.session.add(
            UpstreamSession(
                sso_session_id=sso.id,
                upstream=upstream,
                sub=PORTAL_SUB,
                sid=upstream_sid,
                acr="LoA2",
                loas=["LoA2"],
                amr=[],
                level="urn:hg:loa:2",
            )
        )
        db.session.commit()
        return sso.sid


def is_open(app, sid: str) -> bool:
    with app.app_context():
        sso = db.session.execute(sa.select(SsoSession).where(SsoSession.sid == sid)).scalar_one()
        return sso.ended_at is None


def refusals(app) -> list[str]:
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "upstream.backchannel_logout",
                AuditEvent.outcome == "refused",
            )
        ).scalars()
        return [e.detail["reason"] for e in events]


def post(client, token: str):
    return client.post(URL, data={"logout_token": token})


@pytest.fixture
def person(make_user):
    return make_user()


def test_a_valid_token_ends_the_linked_session_only(app, client, portal, person):
    sid = open_upstream_session(app, person, "np-sid-1")
    other = open_upstream_session(app, person, "np-sid-2")
    answer = post(client, portal.sign(portal.logout_token(aud=CLIENT_ID, sid="np-sid-1")))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    assert not is_open(app, sid)
    assert is_open(app, other)
    with app.app_context():
        ended = db.session.execute(sa.select(SsoSession).where(SsoSession.sid == sid)).scalar_one()
        assert ended.end_reason == "upstream_logout"


def test_a_token_with_sub_only_ends_every_session_of_that_upstream_identity(
    app, client, portal, person
):
    sids = [open_upstream_session(app, person, f"np-sid-{i}") for i in range(2)]
    answer = post(client, portal.sign(portal.logout_token(aud=CLIENT_ID, sub=PORTAL_SUB)))
    assert answer.status_code == 200
    assert not any(is_open(app, sid) for sid in sids)


def test_a_token_for_an_unknown_sub_is_accepted_and_ends_nothing(app, client, portal, person):
    sid = open_upstream_session(app, person, "np-sid-1")
    token = portal.sign(portal.logout_token(aud=CLIENT_ID, sub="someone-else"))
    assert post(client, token).status_code == 200
    assert is_open(app, sid)


def test_the_sub_and_sid_must_both_match(app, client, portal, person):
    sid = open_upstream_session(app, person, "np-sid-1")
    token = portal.sign(portal.logout_token(aud=CLIENT_ID, sub="someone-else", sid="np-sid-1"))
    assert post(client, token).status_code == 200
    assert is_open(app, sid)


def test_a_replayed_token_is_refused(app, client, portal, person):
    token = portal.sign(portal.logout_token(aud=CLIENT_ID, sid="np-sid-1"))
    assert post(client, token).status_code == 200
    sid = open_upstream_session(app, person, "np-sid-1")
    again = post(client, token)
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_request"
    assert is_open(app, sid)
    assert refusals(app) == ["replayed jti"]


def _now() -> int:
    return int(time.time())


ATTACKS = {
    "nonce present": {"nonce": "n-123"},
    "wrong aud": {"aud": "another-client"},
    "wrong iss": {"iss": "https://xacthuc.dichvucong.gov.vn"},
    "events missing the back-channel logout event": {"events": None},
    "events of another kind": {"events": {"http://schemas.openid.net/event/other": {}}},
    "event value not an object": {"events": {EVENT_BACKCHANNEL_LOGOUT: "yes"}},
    "too old": {"iat": _now() - 3600, "exp": _now() + 60},
    "iat in the future": {"iat": _now() + 3600},
    "iat missing": {"iat": None},
    "jti missing": {"jti": None},
    "neither sub nor sid": {"sid": None},
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_token_the_spec_forbids_is_refused(app, client, portal, person, attack):
    sid = open_upstream_session(app, person, "np-sid-1")
    claims = portal.logout_token(aud=CLIENT_ID, sid="np-sid-1")
    for name, value in ATTACKS[attack].items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    answer = post(client, portal.sign(claims))
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"
    assert is_open(app, sid)
    assert len(refusals(app)) == 1


def test_a_token_signed_by_another_key_is_refused(app, client, portal, person):
    sid = open_upstream_session(app, person, "np-sid-1")
    forger = RSAKey.generate_key(2048, parameters={"kid": portal.key.kid})
    claims = portal.logout_token(aud=CLIENT_ID, sid="np-sid-1")
    forged = jwt.encode(
        {"alg": "RS256", "kid": portal.key.kid, "typ": "logout+jwt"}, claims, forger
    )
    assert post(client, forged).status_code == 400
    assert is_open(app, sid)


def test_an_unsigned_or_hmac_token_is_refused(app, client, portal, person):
    sid = open_upstream_session(app, person, "np-sid-1")
    claims = portal.logout_token(aud=CLIENT_ID, sid="np-sid-1")
    from joserfc.jwk import OctKey

    # HMAC keyed with the client secret: anyone who knows it could forge one.
    hmac_token = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET))
    assert post(client, hmac_token).status_code == 400
    header, payload, _sig = portal.sign(claims).split(".")
    assert post(client, f"{header}.{payload}.").status_code == 400
    assert post(client, "not-a-token").status_code == 400
    assert post(client, "").status_code == 400
    assert is_open(app, sid)


def test_an_id_token_typ_is_refused(app, client, portal, person):
    sid = open_upstream_session(app, person, "np-sid-1")
    token = portal.sign(portal.logout_token(aud=CLIENT_ID, sid="np-sid-1"), typ="at+jwt")
    assert post(client, token).status_code == 400
    assert is_open(app, sid)


def test_an_unknown_upstream_is_not_found(client, portal):
    token = portal.sign(portal.logout_token(aud=CLIENT_ID, sid="x"))
    answer = client.post("/login/upstream/nobody/backchannel-logout", data={"logout_token": token})
    assert answer.status_code == 404


def test_a_token_ends_only_sessions_its_own_upstream_started(app, client, portal, person):
    """The same sub and sid from another upstream's session: untouched."""
    other = open_upstream_session(app, person, "np-sid-1", upstream="another")
    token = portal.sign(portal.logout_token(aud=CLIENT_ID, sub=PORTAL_SUB, sid="np-sid-1"))
    assert post(client, token).status_code == 200
    assert is_open(app, other)
