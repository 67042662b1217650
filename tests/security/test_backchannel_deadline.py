"""The back-channel logout deadline holds for the whole call (issue 8, finding 7).

The reported attack: a relying party that answered `200` at once and then trickled its
body held one delivery for 26 s with LOGOUT_TIMEOUT_SECONDS=5, because the timeout
applied to each read; the row was then marked delivered. Deliveries now go through
idp.outbound, whose deadline covers the whole exchange: the call is cut at
LOGOUT_TIMEOUT_SECONDS and the attempt counts as failed, to be retried.
"""

from __future__ import annotations

import time

import pytest
from helpers.clients import make_client
from helpers.hostile_peers import Peer, trickle, trickle_body
from helpers.session_flow import sign_in_to

TIMEOUT_SECONDS = 2


@pytest.fixture
def app_config():
    return {
        "OUTBOUND_ALLOW_PRIVATE_TARGETS": True,
        "LOGOUT_DELIVER_IMMEDIATELY": False,
        "LOGOUT_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
    }


def _register(app, uri: str) -> None:
    make_client(
        app,
        "webmail",
        secret=None,
        auth_method="none",
        grant_types=["authorization_code"],
        scope="openid",
        client_name="webmail",
        backchannel_logout_uri=uri,
    )


def _sign_in_and_out(client, auth) -> None:
    """Sign in, open the relying party (it is recorded with the session), sign out."""
    assert auth.login().status_code == 302
    sign_in_to(client, "webmail")
    assert auth.logout().status_code in (200, 302)


def _rows(app):
    from idp.sessions import outbox

    with app.app_context():
        return outbox.list_deliveries(limit=10)


@pytest.mark.parametrize("behaviour", [trickle_body, trickle], ids=["body", "status-line"])
def test_a_trickling_relying_party_is_cut_at_the_deadline_and_retried(
    app, client, auth, make_user, stopping, behaviour
):
    from idp.sessions import worker

    peer = Peer(behaviour(stopping, every=0.5))
    try:
        make_user()
        _register(app, peer.url("/backchannel-logout"))
        _sign_in_and_out(client, auth)
        started = time.monotonic()
        with app.app_context():
            stats = worker.run(once=True)
        took = time.monotonic() - started
    finally:
        stopping.set()
        peer.stop()
    assert took < TIMEOUT_SECONDS + 1.5, took
    assert stats.statuses == {"pending": 1}
    [row] = _rows(app)
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at is not None
    assert row.last_error == f"127.0.0.1 did not answer within {TIMEOUT_SECONDS} s"
    assert len(peer.hits) == 1  # the token did reach it: only the answer never ended


def test_sessions_revoke_sends_at_once_within_the_deadline_too(
    app, client, auth, make_user, runner, stopping
):
    """`idp sessions revoke` delivers from the command itself: the same deadline."""
    peer = Peer(trickle_body(stopping, every=0.5))
    try:
        make_user()
        _register(app, peer.url("/backchannel-logout"))
        assert auth.login().status_code == 302
        sign_in_to(client, "webmail")
        started = time.monotonic()
        result = runner.invoke(
            args=["sessions", "revoke", "--user", "nguyen.van.an@haugiang.gov.vn"]
        )
        took = time.monotonic() - started
    finally:
        stopping.set()
        peer.stop()
    assert result.exit_code == 0, result.output
    assert took < TIMEOUT_SECONDS + 1.5, took
    [row] = _rows(app)
    assert row.status == "pending" and row.attempts == 1
