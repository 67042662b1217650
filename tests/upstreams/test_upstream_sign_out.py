"""Signing out across the broker and the national portal stand-in, over real HTTP, on
SQLite and PostgreSQL.

- Our sign-out of a session the portal started ends ours, then sends the browser to the
  portal's logout URL (id_token_hint, post_logout_redirect_uri back to us, state), whose
  session ends too, and back to our signed-out page.
- The portal ending its session (a back-channel logout token to our endpoint, sent by
  oidc-provider itself) ends the linked session here.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from helpers.ci import unavailable
from helpers.live import (
    EMAIL,
    PASSWORD,
    Browser,
    LiveIdp,
    NodeRP,
    form_fields,
    free_port,
    install_demo_rp,
    node_available,
    node_client_metadata,
    wait_until,
)
from helpers.national_portal import (
    CITIZEN,
    UPSTREAM,
    NationalPortal,
    national_portal_ready,
    pre_link,
    start_brokered,
    through_portal,
)

from idp.audit import AuditEvent
from idp.extensions import db
from idp.sessions.models import SsoSession


@pytest.fixture
def brokered(database_url) -> Iterator[tuple[LiveIdp, NationalPortal, str]]:
    national_portal_ready()
    idp, portal = start_brokered(database_url)
    try:
        sub = idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
        pre_link(idp, sub)
        yield idp, portal, sub
    finally:
        portal.stop()
        idp.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def open_sessions(idp: LiveIdp) -> list[SsoSession]:
    with idp.app.app_context():
        rows = db.session.execute(sa.select(SsoSession).where(SsoSession.ended_at.is_(None)))
        return list(rows.scalars())


def refused_logout_tokens(idp: LiveIdp) -> list[dict]:
    with idp.app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "upstream.backchannel_logout",
                AuditEvent.outcome == "refused",
            )
        ).scalars()
        return [e.detail for e in events]


def test_signing_out_here_signs_out_at_the_portal_too(brokered, browser):
    idp, portal, _sub = brokered
    landed = through_portal(browser, idp)
    assert landed.url == idp.issuer + "/account/"
    assert len(open_sessions(idp)) == 1 and len(portal.sessions()) == 1

    page = browser.get(idp.issuer + "/logout")
    answer = browser.post(idp.issuer + "/logout", data=form_fields(page.text, "/logout"))
    # Ours ended first; the signed-out page continues to the portal's logout URL.
    assert open_sessions(idp) == []
    assert answer.url == idp.issuer + "/logout"
    location = html.unescape(answer.text.split('id="continue" href="')[1].split('"')[0])
    assert location.startswith(portal.end_session_endpoint + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["post_logout_redirect_uri"] == [
        idp.issuer + f"/login/upstream/{UPSTREAM}/logged-out"
    ]
    assert query["id_token_hint"][0].count(".") == 2 and query["state"][0]

    # The portal's confirmation submits itself (a script); the test submits it.
    confirm = browser.get(location)
    fields = form_fields(confirm.text, "/oauth2/logout/confirm")
    fields["logout"] = "yes"
    back = browser.post(urljoin(confirm.url, "/oauth2/logout/confirm"), data=fields)
    assert back.url == idp.issuer + "/logged-out", back.url
    assert portal.sessions() == []
    # The portal's own logout token for the session we ended is accepted quietly.
    assert refused_logout_tokens(idp) == []


def test_a_returning_state_that_is_not_ours_goes_to_the_signed_out_page_only(brokered, browser):
    idp, _portal, _sub = brokered
    answer = browser.get(idp.issuer + f"/login/upstream/{UPSTREAM}/logged-out?state=forged")
    assert answer.url == idp.issuer + "/logged-out"


def test_the_portal_ending_its_session_ends_ours(brokered, browser):
    idp, portal, _sub = brokered
    through_portal(browser, idp)
    assert len(open_sessions(idp)) == 1
    sent = portal.end_sessions_of(CITIZEN["sub"])
    assert sent == {"sent": 1, "failed": []}, portal.log()
    assert wait_until(lambda: open_sessions(idp) == [])
    assert refused_logout_tokens(idp) == []
    # The browser is signed out here: the account page asks to sign in.
    assert "/login" in browser.get(idp.issuer + "/account/").url


def test_the_portal_ending_its_session_signs_the_person_out_of_our_relying_parties(
    brokered, browser
):
    """The fan-out: the Node sample relying party, signed in through us and the portal,
    gets our back-channel logout token when the portal ends its session."""
    idp, portal, _sub = brokered
    reason = node_available() or install_demo_rp()
    if reason:
        unavailable(reason)
    port = free_port()
    secret = secrets.token_urlsafe(32)
    base = f"http://127.0.0.1:{port}"
    idp.add_client(
        "node-rp", secret, node_client_metadata(base, logout="backchannel", name="Ứng dụng")
    )
    node = NodeRP(issuer=idp.issuer, client_id="node-rp", secret=secret, port=port, title="RP")
    try:
        sign_in_page = browser.get(base + "/login")
        assert sign_in_page.url.startswith(idp.issuer + "/login?")
        button = sign_in_page.text.split(f'id="upstream-{UPSTREAM}" href="')[1].split('"')[0]
        at_portal = browser.get(idp.issuer + html.unescape(button))
        landed = browser.post(at_portal.url.rstrip("/") + "/login", data={"username": "an"})
        assert landed.url == base + "/", landed.url
        assert browser.node_session(node)["signed_in"] is True

        assert portal.end_sessions_of(CITIZEN["sub"])["sent"] == 1
        assert wait_until(lambda: browser.node_session(node)["signed_in"] is False), node.log()
        assert open_sessions(idp) == []
    finally:
        node.stop()
