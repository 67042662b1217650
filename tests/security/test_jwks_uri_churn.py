"""Churning a client's jwks_uri to get a fetch on every request (issue 8 review, finding 3).

The once-per-interval rule for fetching a client's jwks_uri started afresh whenever the
stored jwks_uri differed from the registered one, and a dynamically registered client
changes its jwks_uri with one RFC 7592 PUT. So {PUT jwks_uri=.../j-<n>; POST /oauth2/token
with any client_assertion} gave a full CLIENT_JWKS_FETCH_SECONDS fetch on a request thread
every time (no key needed: the fetch comes before the signature check): the sign-in page
took 1.6 s (median) and another client's token requests 2.6 s (p90). Now the interval and
the back-off belong to the client, whatever jwks_uri it registers.
"""

from __future__ import annotations

import pytest
import requests
from helpers.clients import initial_access_token
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

RETURNED_ONLY = {
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
    "client_secret",
}


@pytest.fixture
def app_config():
    # Attacker and bystanders share the loopback address: the rate limits are not tested here.
    return LOOPBACK | UNLIMITED


def _register(app, http, jwks_uri: str, base: str = "") -> dict:
    token = initial_access_token(app)
    response = http.post(
        base + "/oauth2/register",
        json={
            "redirect_uris": ["https://rp.example.org/cb"],
            "client_name": "Ứng dụng đổi jwks_uri",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": jwks_uri,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text if base else response.get_json()
    return response.json() if base else response.get_json()


def _churn(http, registered: dict, jwks_uri: str, base: str = "") -> None:
    """RFC 7592 2.2: the client sends its metadata back with another jwks_uri."""
    body = {k: v for k, v in registered.items() if k not in RETURNED_ONLY}
    body["jwks_uri"] = jwks_uri
    path = registered["registration_client_uri"].removeprefix("http://idp.test")
    response = http.put(
        base + path,
        json=body,
        headers={"Authorization": f"Bearer {registered['registration_access_token']}"},
    )
    assert response.status_code == 200


def test_churning_the_jwks_uri_does_not_buy_a_fetch_per_request(app, client, monkeypatch):
    key = new_key()
    peer = Peer(answer(500, b"down"))
    try:
        registered = _register(app, client, peer.url("/j-0"))
        client_id = registered["client_id"]
        for n in range(1, 8):
            _churn(client, registered, peer.url(f"/j-{n}"))
            response = client.post("/oauth2/token", data=assertion_form(key, client_id))
            assert response.get_json()["error"] == "invalid_client"
        assert len(peer.hits) == 1
        # The back-off is the client's: after the interval, one fetch more, of the
        # jwks_uri registered now.
        shift_utcnow(monkeypatch, key_cache, app.config["CLIENT_JWKS_RETRY_SECONDS"] + 1)
        _churn(client, registered, peer.url("/j-last"))
        client.post("/oauth2/token", data=assertion_form(key, client_id))
        _churn(client, registered, peer.url("/j-after"))
        client.post("/oauth2/token", data=assertion_form(key, client_id))
        assert [hit.path for hit in peer.hits][1:] == ["/j-last"]
    finally:
        peer.stop()


def test_a_new_jwks_uri_is_used_once_the_interval_has_passed(app, client, monkeypatch):
    """A client that really moves its keys gets them at the next turn."""
    old, new = new_key("rp-old"), new_key("rp-new")
    old_peer, new_peer = Peer(serve_jwks([old])), Peer(serve_jwks([new]))
    try:
        registered = _register(app, client, old_peer.url())
        client_id = registered["client_id"]
        first = client.post("/oauth2/token", data=assertion_form(old, client_id))
        assert first.get_json()["error"] != "invalid_client"  # authenticated
        _churn(client, registered, new_peer.url())
        shift_utcnow(monkeypatch, key_cache, app.config["CLIENT_JWKS_RETRY_SECONDS"] + 1)
        moved = client.post("/oauth2/token", data=assertion_form(new, client_id))
        assert moved.get_json()["error"] != "invalid_client"
        stale = client.post("/oauth2/token", data=assertion_form(old, client_id))
        assert stale.get_json()["error"] == "invalid_client"
    finally:
        old_peer.stop()
        new_peer.stop()
    assert len(old_peer.hits) == 1 and len(new_peer.hits) == 1


def test_the_sign_in_page_and_other_clients_stay_fast_while_a_client_churns_its_jwks_uri(
    app, stopping
):
    """Served with two request threads, as `idp serve` runs by default: four attackers
    each loop {PUT jwks_uri=<trickling peer>/j-<n>; POST /oauth2/token}, while a person
    opens the sign-in page and another client asks for tokens."""
    key = new_key()
    peer = Peer(trickle(stopping, every=0.5, seconds=30))
    add_client(app, "lgsp", token_endpoint_auth_method="client_secret_basic")
    server = PooledServer(app, threads=2)
    with requests.Session() as http:
        registered = _register(app, http, peer.url("/j-0"), server.url)
    counter = iter(range(1, 10**6))

    def attack(http) -> None:
        _churn(http, registered, peer.url(f"/j-{next(counter)}"), server.url)
        response = http.post(
            server.url + "/oauth2/token",
            data=assertion_form(key, registered["client_id"]),
            timeout=15,
        )
        assert response.json()["error"] == "invalid_client"

    try:
        page_times, token_times, _ = under_attack(attack, server.url, stopping)
    finally:
        stopping.set()
        peer.stop()
        server.stop()
    # One request thread may be held once for CLIENT_JWKS_FETCH_SECONDS (2 s).
    assert max(page_times) < 4, page_times
    assert max(token_times) < 4, token_times
    assert peer.connections == 1
