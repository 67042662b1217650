"""OpenID Connect Back-Channel Logout 1.0: logout tokens, the outbox, retries, the worker.

The relying parties are real HTTP servers on 127.0.0.1 (tests/helpers/receiver.py);
tokens are checked the way a relying party checks them, against /jwks.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from helpers.apps import app_on
from helpers.clients import make_client
from helpers.logout_flow import (
    LOGOUT_TEST_CONFIG,
    POST_LOGOUT,
    deliveries,
    end_session,
    header_of,
    later,
    run_worker,
    set_metadata,
    validate_logout_token,
)
from helpers.oidc_flow import EMAIL, RelyingParty, provider_jwks
from helpers.pages import sign_out
from helpers.receiver import LogoutReceiver


@pytest.fixture
def app_config():
    return dict(LOGOUT_TEST_CONFIG)


@pytest.fixture
def backchannel(app, rp, receiver):
    """webmail registered for back-channel logout (sid required) at the receiver."""
    set_metadata(
        app,
        "webmail",
        backchannel_logout_uri=receiver.url(),
        backchannel_logout_session_required=True,
        post_logout_redirect_uris=[POST_LOGOUT],
    )
    return receiver


def test_discovery_advertises_back_channel_logout(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert metadata["end_session_endpoint"] == "http://idp.test/oauth2/logout"


def test_oidcc_backchannel_rp_initiated_logout(app, rp, backchannel):
    tokens = rp.tokens()
    id_claims = rp.validate_id_token(tokens["id_token"], nonce="n-0S6_WzA2Mj")
    response = end_session(
        rp.http, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT, state="s1"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT + "?state=s1"
    # The sign-out answered before anything was delivered: the notice waits in the outbox.
    assert [r["status"] for r in deliveries(app)] == ["pending"]
    assert backchannel.received == []

    assert run_worker(app) == ["delivered"]
    [received] = backchannel.wait_for(1)
    assert received.path == "/backchannel-logout"
    assert received.content_type == "application/x-www-form-urlencoded"
    assert list(received.form) == ["logout_token"]
    claims = validate_logout_token(rp, received.logout_token, "webmail")
    assert claims["sub"] == id_claims["sub"]
    assert claims["sid"] == id_claims["sid"]
    [row] = deliveries(app)
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 200
    assert row["delivered_at"] is not None and row["last_error"] is None


def test_logout_token_is_signed_like_the_clients_id_tokens(app, rp, backchannel):
    set_metadata(app, "webmail", id_token_signed_response_alg="ES256")
    rp.tokens()
    sign_out(rp.http)
    run_worker(app)
    [received] = backchannel.wait_for(1)
    validate_logout_token(rp, received.logout_token, "webmail", alg="ES256")


def test_every_relying_party_of_the_session_is_told_and_no_other(app, rp, backchannel, make_user):
    second = LogoutReceiver()
    try:
        make_client(app, "portal", backchannel_logout_uri=second.url("/bcl?tenant=1"))
        make_client(app, "reports")  # no back-channel URI: nothing to send
        make_client(app, "elsewhere", backchannel_logout_uri=second.url("/other"))
        rp.tokens()
        RelyingParty(rp.http, "portal").tokens()
        RelyingParty(rp.http, "reports").tokens()
        # Someone else's session with the third client is not touched.
        make_user("tran.thi.binh@haugiang.gov.vn", given_name="Bình")
        other = RelyingParty(app.test_client(), "elsewhere")
        other.login("tran.thi.binh@haugiang.gov.vn")
        other.tokens()

        sign_out(rp.http)
        assert sorted(r["client_id"] for r in deliveries(app)) == ["portal", "webmail"]
        assert sorted(run_worker(app)) == ["delivered", "delivered"]
        [to_webmail] = backchannel.wait_for(1)
        [to_portal] = second.wait_for(1)
        assert to_portal.path == "/bcl?tenant=1"
        one = validate_logout_token(rp, to_webmail.logout_token, "webmail")
        two = validate_logout_token(rp, to_portal.logout_token, "portal")
        assert one["sid"] == two["sid"] and one["sub"] == two["sub"]
        assert one["jti"] != two["jti"]
        assert other.http.get("/account/").status_code == 200
    finally:
        second.stop()


def test_a_relying_party_that_was_down_gets_its_token_when_it_is_back(app, rp, backchannel):
    down = LogoutReceiver(start=False)
    set_metadata(app, "webmail", backchannel_logout_uri=down.url())
    rp.tokens()
    sign_out(rp.http)

    assert run_worker(app) == ["pending"]
    [row] = deliveries(app)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "cannot connect" in row["last_error"]
    assert row["next_attempt_at"] >= row["last_attempt_at"] + timedelta(seconds=5)
    # Not due yet: a worker round now does nothing.
    assert run_worker(app) == []

    down.start()
    try:
        assert run_worker(app, now=later(row)) == ["delivered"]
        [received] = down.wait_for(1)
        validate_logout_token(rp, received.logout_token, "webmail")
        [row] = deliveries(app)
        assert row["status"] == "delivered" and row["attempts"] == 2
    finally:
        down.stop()


def test_queued_notices_survive_a_restart(app, rp, backchannel, database_url, app_config):
    rp.tokens()
    sign_out(rp.http)
    with app_on(database_url, app_config) as restarted:  # another process, the same settings
        assert run_worker(restarted) == ["delivered"]
    validate_logout_token(rp, backchannel.wait_for(1)[0].logout_token, "webmail")


def test_an_error_answer_counts_as_a_failed_attempt(app, rp, backchannel):
    backchannel.status = 400
    rp.tokens()
    sign_out(rp.http)
    assert run_worker(app) == ["pending"]
    [row] = deliveries(app)
    assert row["last_status"] == 400
    assert row["last_error"] == "HTTP 400 invalid_request"
    assert len(backchannel.received) == 1
    # The relying party fixes itself (e.g. refetches our JWKS): the retry is delivered.
    backchannel.status = 204
    assert run_worker(app, now=later(row)) == ["delivered"]


def test_redirects_are_not_followed(app, rp, backchannel):
    backchannel.status = 302
    rp.tokens()
    sign_out(rp.http)
    assert run_worker(app) == ["pending"]
    assert deliveries(app)[0]["last_error"] == "HTTP 302 (redirects are not followed)"


def test_retries_grow_and_stop_after_the_retry_period(app, rp, backchannel):
    down = LogoutReceiver(start=False)
    set_metadata(app, "webmail", backchannel_logout_uri=down.url())
    app.config["LOGOUT_RETRY_SECONDS"] = 60
    rp.tokens()
    sign_out(rp.http)
    gaps, statuses = [], []
    for _ in range(10):
        statuses += run_worker(app, now=later(deliveries(app)[0]))
        row = deliveries(app)[0]
        if row["status"] != "pending":
            break
        gaps.append((row["next_attempt_at"] - row["last_attempt_at"]).total_seconds())
    assert gaps == [5, 10, 20]
    assert statuses == ["pending", "pending", "pending", "gave_up"]
    assert row["status"] == "gave_up" and row["attempts"] == 4


def test_private_addresses_are_refused_when_the_setting_is_off(app, rp, backchannel):
    app.config["OUTBOUND_ALLOW_PRIVATE_TARGETS"] = False
    rp.tokens()
    sign_out(rp.http)
    assert run_worker(app) == ["failed"]
    [row] = deliveries(app)
    assert "OUTBOUND_ALLOW_PRIVATE_TARGETS" in row["last_error"]
    assert "127.0.0.1" in row["last_error"]
    assert backchannel.received == []


def test_immediate_delivery_right_after_sign_out(app, rp, backchannel):
    app.config["LOGOUT_DELIVER_IMMEDIATELY"] = True
    response = end_session(rp.http, id_token_hint=rp.tokens()["id_token"])
    assert response.status_code == 302
    [received] = backchannel.wait_for(1)
    validate_logout_token(rp, received.logout_token, "webmail")
    for _ in range(200):
        if deliveries(app)[0]["status"] == "delivered":
            break
        threading.Event().wait(0.05)
    assert deliveries(app)[0]["status"] == "delivered"
    assert run_worker(app) == []  # nothing left for the worker


def test_two_workers_never_deliver_the_same_notice(app, backchannel):
    """Many notices, two workers at once: each notice reaches the relying party once."""
    from idp.extensions import db, utcnow
    from idp.sessions import outbox, worker

    make_client(app, "portal", backchannel_logout_uri=backchannel.url())
    backchannel.delay = 0.02
    count = 60
    with app.app_context():
        now = utcnow()
        notices = [outbox.Notice("portal", "sub-1", f"sid-{i}", "test") for i in range(count)]
        outbox.enqueue(notices, retry_seconds=3600, now=now)
        db.session.commit()

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    attempts: list[int] = []

    def work() -> None:
        try:
            with app.app_context():
                barrier.wait()
                attempts.append(worker.run(once=True, concurrency=4).attempts)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(attempts) == count and min(attempts) > 0  # both worked, side by side
    received = backchannel.wait_for(count)
    from joserfc import jwt as _jwt

    sids = sorted(
        _jwt.decode(r.logout_token, provider_jwks(app), algorithms=["RS256"]).claims["sid"]
        for r in received
    )
    assert sids == sorted(f"sid-{i}" for i in range(count))
    rows = deliveries(app)
    assert {r["status"] for r in rows} == {"delivered"}
    assert {r["attempts"] for r in rows} == {1}


def test_disabling_an_account_signs_it_out_everywhere_and_revokes_its_tokens(app, rp, backchannel):
    from idp.directory.service import disable_user, enable_user, find_user
    from idp.extensions import transaction

    tokens = rp.tokens(scope="openid offline_access")
    with app.test_request_context(), transaction():
        disable_user(find_user(EMAIL), actor="cli:test")
    assert run_worker(app) == ["delivered"]
    validate_logout_token(rp, backchannel.wait_for(1)[0].logout_token, "webmail")
    refused = rp.refresh(tokens["refresh_token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401
    # Enabling the account again does not bring its old tokens back.
    with app.test_request_context(), transaction():
        enable_user(find_user(EMAIL), actor="cli:test")
    assert rp.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_sign_out_revokes_session_tokens_but_not_offline_ones(app, rp, backchannel):
    online = rp.tokens()
    offline = rp.tokens(scope="openid offline_access")
    sign_out(rp.http)
    assert rp.userinfo(online["access_token"]).status_code == 401
    assert rp.refresh(online["refresh_token"]).get_json()["error"] == "invalid_grant"
    # offline_access is meant to outlive the sign-in session (OIDC Core 11).
    assert rp.userinfo(offline["access_token"]).status_code == 200
    assert rp.refresh(offline["refresh_token"]).status_code == 200


def test_the_logout_token_is_minted_at_delivery(app, rp, backchannel):
    """Each attempt sends a fresh token: nothing secret or stale waits in the outbox."""
    backchannel.status = 503
    rp.tokens()
    sign_out(rp.http)
    run_worker(app)
    backchannel.status = 200
    run_worker(app, now=later(deliveries(app)[0]))
    first, second = (r.logout_token for r in backchannel.wait_for(2))
    one = validate_logout_token(rp, first, "webmail")
    two = validate_logout_token(rp, second, "webmail")
    assert one["jti"] != two["jti"] and one["sid"] == two["sid"]
    assert header_of(first)["typ"] == "logout+jwt"
    from idp.sessions.models import LogoutDelivery

    columns = {c.name for c in LogoutDelivery.__table__.columns}
    assert not {"token", "logout_token"} & columns
