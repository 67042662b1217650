"""Escaping or abusing the rate limits of the token, introspection, revocation and
registration endpoints (idp.limits), and Redis going away.

- an attacker who rotates X-Forwarded-For (or the low bits of an IPv6 address) keeps one
  counter: the address is the one the trusted proxies saw;
- naming a client with another spelling, an unknown client, or the real client without its
  secret buys no fresh allowance and spends none of the real client's;
- Redis refusing connections, or going away in the middle, is no 500: the provider keeps
  serving and counts in memory.
"""

from __future__ import annotations

import logging

import pytest
from helpers.clients import SECRET, make_machine_client
from helpers.limits import RedisThatGoesAway, closed_port, limit_storage, require_redis

SMALL = {
    "RATE_LIMIT_TOKEN": "3 per minute",
    "RATE_LIMIT_INTROSPECTION": "3 per minute",
    "RATE_LIMIT_REVOCATION": "3 per minute",
    "RATE_LIMIT_REGISTRATION": "3 per minute",
    "RATE_LIMIT_FAILURES": "5 per minute",
}
ATTACKER_IP = "203.0.113.66"
CLIENT_IP = "192.0.2.20"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request):
    with limit_storage(request.param) as settings:
        yield settings


@pytest.fixture
def proxies() -> int:
    return 0


@pytest.fixture
def app_config(storage, proxies):
    return SMALL | storage | {"TRUSTED_PROXIES": proxies}


def http(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def token(client, client_id: str = "lgsp", secret: str = SECRET, headers=None):
    return client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "lgsp.read"},
        auth=(client_id, secret),
        headers=headers or {},
    )


@pytest.mark.parametrize("proxies", [0, 1])
def test_rotating_x_forwarded_for_keeps_one_counter(app, proxies):
    """Without a trusted proxy the header is ignored; behind one, only the address the
    proxy appended counts, whatever the attacker put before it."""
    make_machine_client(app, "lgsp", "lgsp.read")
    # Behind the proxy every request comes from the proxy's socket.
    attacker = http(app, "10.0.0.1" if proxies else ATTACKER_IP)
    answers = []
    for i in range(12):
        forged = f"198.51.100.{i}, 192.0.2.{i}"
        chain = f"{forged}, {ATTACKER_IP}" if proxies else forged
        answers.append(token(attacker, "lgsp", "guess", {"X-Forwarded-For": chain}).status_code)
    assert answers == [401] * 5 + [429] * 7
    # The client, from its own address (through the same proxy), is served.
    chain = {"X-Forwarded-For": CLIENT_IP} if proxies else {}
    client = http(app, "10.0.0.1" if proxies else CLIENT_IP)
    assert token(client, headers=chain).status_code == 200


def test_rotating_addresses_within_an_ipv6_64_keeps_one_counter(app):
    make_machine_client(app, "lgsp", "lgsp.read")
    answers = [
        token(http(app, f"2001:db8:66:1::{i + 1:x}"), "lgsp", "guess").status_code for i in range(8)
    ]
    assert answers == [401] * 5 + [429] * 3
    assert token(http(app, "2001:db8:66:2::1")).status_code == 200


def test_other_spellings_and_unknown_clients_share_the_attackers_counter(app):
    make_machine_client(app, "lgsp", "lgsp.read")
    attacker = http(app, ATTACKER_IP)
    names = ["LGSP", "Lgsp", "lgsp ", " lgsp", "lgsp\u200b", "nobody-1", "nobody-2"]
    answers = [token(attacker, name, SECRET).status_code for name in names]
    # Another spelling is another (unknown) client: a failure of the attacker's address.
    assert answers == [401] * 5 + [429] * 2
    assert token(http(app, CLIENT_IP)).status_code == 200


def test_naming_a_client_without_its_secret_spends_none_of_its_allowance(app):
    """A botnet naming the client with wrong secrets, each address under the failures
    limit: the real client still gets its whole allowance."""
    make_machine_client(app, "lgsp", "lgsp.read")
    for i in range(40):
        assert token(http(app, f"198.51.100.{i}"), "lgsp", "guess").status_code == 401
    client = http(app, CLIENT_IP)
    assert [token(client).status_code for _ in range(4)] == [200, 200, 200, 429]


def _served_and_limited(app, caplog) -> None:
    """The provider answers and still limits (in memory); nothing is a 500 or an error."""
    make_machine_client(app, "lgsp", "lgsp.read")
    client = http(app, CLIENT_IP)
    with caplog.at_level(logging.WARNING):
        answers = [token(client).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        assert app.test_client().get("/.well-known/openid-configuration").status_code == 200
        assert [token(http(app, ATTACKER_IP), "nobody", "x").status_code for _ in range(6)] == [
            401
        ] * 5 + [429]


def test_a_redis_that_refuses_connections_is_no_500(sqlite_url, caplog):
    from helpers.apps import app_on

    config = SMALL | {"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    with app_on(sqlite_url, config) as app:
        _served_and_limited(app, caplog)
    assert "falling back to in-memory storage" in caplog.text


@pytest.mark.redis
def test_redis_going_away_in_the_middle_is_no_500(sqlite_url, caplog):
    from helpers.apps import app_on

    require_redis()
    relay = RedisThatGoesAway()
    with limit_storage("redis") as storage:
        config = SMALL | storage | {"REDIS_URL": relay.url}
        with app_on(sqlite_url, config) as app:
            make_machine_client(app, "lgsp", "lgsp.read")
            client = http(app, CLIENT_IP)
            assert token(client).status_code == 200  # counted in Redis
            relay.stop()
            with caplog.at_level(logging.WARNING):
                answers = [token(client).status_code for _ in range(4)]
            # In memory from now on: a fresh count in this process.
            assert answers == [200, 200, 200, 429]
            assert "falling back to in-memory storage" in caplog.text


@pytest.mark.parametrize("proxies", [0])
def test_a_body_too_large_does_not_switch_the_counters_to_memory(app, storage):
    """Flask-Limiter takes any error while it counts for its storage failing, and counts in
    memory from then on. An oversized body (the key function reads the form) is refused
    with 413 and leaves the counters where they are."""
    make_machine_client(app, "lgsp", "lgsp.read")
    client = http(app, ATTACKER_IP)
    body = "client_id=lgsp&client_secret=x&grant_type=client_credentials&pad=" + "a" * (
        2 * 1024 * 1024
    )
    response = client.post(
        "/oauth2/token", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    limiter = app.extensions["idp.limits"]
    assert limiter._storage_dead is False
