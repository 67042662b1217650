"""A slow or hostile `jwks_uri` (issue 8, finding 3, availability).

The reported attack: a private_key_jwt client whose jwks_uri sends one byte every 2 s.
The fetch's 3-second timeout applied to each read, so each token request of that client
held a server worker for as long as the trickle went on; with both workers held, the
sign-in page took 29 s. Now the whole fetch has one deadline (CLIENT_JWKS_FETCH_SECONDS),
one client's jwks_uri is fetched at most once per CLIENT_JWKS_RETRY_SECONDS by anyone
(and less often after failures), and keys are fetched outside the request path by
`idp worker`. So a hostile jwks_uri delays only its own client's requests, briefly.
"""

from __future__ import annotations

import time

import pytest
from helpers.clock import shift_utcnow
from helpers.hostile_peers import (
    LOOPBACK,
    Peer,
    PooledServer,
    add_client,
    answer,
    assertion_form,
    new_key,
    trickle,
    under_attack,
)
from helpers.hostile_peers import jwks as serve_jwks
from helpers.limits import UNLIMITED

from idp.oidc import client_keys as key_cache


@pytest.fixture
def app_config():
    # Attacker and bystanders share the loopback address: the rate limits are not tested here.
    return LOOPBACK | UNLIMITED


def _token(http, key, client_id="hostile", kid=None):
    return http.post("/oauth2/token", data=assertion_form(key, client_id, kid))


def test_a_trickling_peer_is_cut_at_the_overall_deadline(stopping):
    """One byte every 0.5 s: each read is quick, the whole exchange is not."""
    from idp.outbound import DEADLINE, OutboundError, fetch

    peer = Peer(trickle(stopping, every=0.5))
    started = time.monotonic()
    try:
        with pytest.raises(OutboundError) as cut:
            fetch(peer.url(), deadline_seconds=1.5, max_bytes=65536, allow_private=True)
    finally:
        peer.stop()
    elapsed = time.monotonic() - started
    assert cut.value.reason == DEADLINE
    assert str(cut.value) == "127.0.0.1 did not answer within 1.5 s"
    assert 1.4 < elapsed < 2.5


def test_a_trickling_jwks_uri_delays_its_own_client_once_and_briefly(app, client, stopping):
    key = new_key()
    peer = Peer(trickle(stopping, every=0.5))
    try:
        add_client(app, "hostile", jwks_uri=peer.url())
        started = time.monotonic()
        first = _token(client, key)
        first_took = time.monotonic() - started
        started = time.monotonic()
        again = _token(client, key)
        again_took = time.monotonic() - started
    finally:
        peer.stop()
    assert first.get_json()["error"] == again.get_json()["error"] == "invalid_client"
    fetch_seconds = app.config["CLIENT_JWKS_FETCH_SECONDS"]
    assert first_took < fetch_seconds + 1.5, first_took
    # The failure is remembered: the next request does not wait for the peer again.
    assert again_took < 0.5, again_took
    assert peer.connections == 1


def test_the_sign_in_page_and_other_clients_stay_fast_while_a_jwks_uri_trickles(app, stopping):
    """The provider served with two request threads, as `idp serve` runs by default; four
    attackers send token requests for a client whose jwks_uri trickles, while a person
    opens the sign-in page and another client asks for tokens."""
    key = new_key()
    peer = Peer(trickle(stopping, every=0.5, seconds=30))
    add_client(app, "hostile", jwks_uri=peer.url())
    add_client(app, "lgsp", token_endpoint_auth_method="client_secret_basic")
    server = PooledServer(app, threads=2)

    def attack(http) -> None:
        response = http.post(
            server.url + "/oauth2/token", data=assertion_form(key, "hostile"), timeout=15
        )
        assert response.json()["error"] == "invalid_client"

    try:
        page_times, token_times, attack_times = under_attack(attack, server.url, stopping)
    finally:
        stopping.set()
        peer.stop()
        server.stop()
    # Generous bounds: one request thread may be held for CLIENT_JWKS_FETCH_SECONDS (2 s)
    # by the one fetch the attack gets; before the fix each request waited 30 s.
    assert max(page_times) < 4, page_times
    assert max(token_times) < 4, token_times
    assert attack_times and max(attack_times) < 4, attack_times
    assert peer.connections == 1


def test_a_failing_jwks_uri_is_retried_less_and_less_often(app, client, monkeypatch):
    from idp.oidc import client_keys

    key = new_key()
    peer = Peer(answer(500, b"down"))
    retry = app.config["CLIENT_JWKS_RETRY_SECONDS"]
    try:
        add_client(app, "hostile", jwks_uri=peer.url())
        assert _token(client, key).get_json()["error"] == "invalid_client"
        assert _token(client, key).get_json()["error"] == "invalid_client"
        assert len(peer.hits) == 1  # the failure is remembered
        shift_utcnow(monkeypatch, key_cache, retry + 1)
        _token(client, key)
        assert len(peer.hits) == 2
        # After a second failure the interval doubles.
        shift_utcnow(monkeypatch, key_cache, 2 * retry + 2)
        _token(client, key)
        assert len(peer.hits) == 2
        shift_utcnow(monkeypatch, key_cache, 3 * retry + 2)
        _token(client, key)
        assert len(peer.hits) == 3
    finally:
        peer.stop()
    with app.app_context():
        state = client_keys.state_of("hostile")
        assert state.failures == 3 and "HTTP 500" in state.last_error


def test_assertions_naming_unknown_kids_refetch_at_most_once_per_interval(app, client, monkeypatch):
    """An unknown kid (the client rotated its keys) refetches the jwks_uri, but not more
    often than CLIENT_JWKS_RETRY_SECONDS, whatever kids the assertions name."""
    key = new_key()
    peer = Peer(serve_jwks([key]))
    try:
        add_client(app, "hostile", jwks_uri=peer.url())
        assert _token(client, key).status_code == 200
        for i in range(3):
            assert _token(client, key, kid=f"random-{i}").get_json()["error"] == "invalid_client"
        assert len(peer.hits) == 1
        shift_utcnow(monkeypatch, key_cache, app.config["CLIENT_JWKS_RETRY_SECONDS"] + 1)
        for i in range(3):
            assert _token(client, key, kid=f"again-{i}").get_json()["error"] == "invalid_client"
        assert len(peer.hits) == 2
        assert _token(client, key).status_code == 200
    finally:
        peer.stop()
    assert len(peer.hits) == 2


def test_a_good_jwks_uri_works_and_is_fetched_once(app, client):
    key = new_key()
    peer = Peer(serve_jwks([key]))
    try:
        add_client(app, "lgsp", jwks_uri=peer.url())
        for _ in range(3):
            response = _token(client, key, "lgsp")
            assert response.status_code == 200, response.get_data(as_text=True)
    finally:
        peer.stop()
    assert len(peer.hits) == 1


def test_idp_worker_fetches_keys_outside_the_request_path(app, client, monkeypatch):
    """Keys are fetched by `idp worker` before any request needs them, and refreshed when
    they are CLIENT_JWKS_REFRESH_SECONDS old, so the token endpoint reads them from the
    database; a rotated key is picked up by the next refresh."""
    from idp.sessions import worker

    old, new = new_key("rp-1"), new_key("rp-2")
    keys = [old]

    def behave(conn, hit):
        serve_jwks(keys)(conn, hit)

    peer = Peer(behave)
    try:
        add_client(app, "lgsp", jwks_uri=peer.url())
        with app.app_context():
            worker.run(once=True)
        assert len(peer.hits) == 1
        assert _token(client, old, "lgsp").status_code == 200
        assert len(peer.hits) == 1  # from the database, not from the network
        keys[:] = [new]
        shift_utcnow(monkeypatch, key_cache, app.config["CLIENT_JWKS_REFRESH_SECONDS"] + 1)
        with app.app_context():
            worker.run(once=True)
        assert len(peer.hits) == 2
        hits = len(peer.hits)
        assert _token(client, new, "lgsp").status_code == 200
        assert len(peer.hits) == hits
    finally:
        peer.stop()


def test_keys_are_shared_by_every_process_through_the_database(app, client):
    """A second web process (a second app on the same database) uses the keys the first
    fetched, without calling the jwks_uri again."""
    from idp import create_app

    key = new_key()
    peer = Peer(serve_jwks([key]))
    try:
        add_client(app, "lgsp", jwks_uri=peer.url())
        assert _token(client, key, "lgsp").status_code == 200
        other = create_app({k: v for k, v in app.config.items() if k.isupper()})
        try:
            assert _token(other.test_client(), key, "lgsp").status_code == 200
        finally:
            with other.app_context():
                from idp.extensions import db

                db.engine.dispose()
    finally:
        peer.stop()
    assert len(peer.hits) == 1
