"""The per-process cache of client registrations (idp.clients.store._ClientCache).

Changes made by this process are seen at once; changes made elsewhere (another worker, the
`idp clients` command) within CLIENT_CACHE_SECONDS; the secret is checked every time.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.clients import make_machine_client
from helpers.clock import FakeClock
from helpers.oidc_flow import SECRET, basic

from idp.clients import store

TOKEN = "/oauth2/token"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def machine(app):
    return make_machine_client(app, "lgsp", "lgsp.read")


def change_elsewhere(app, sql: str) -> None:
    """Write to the database the way another process would: on a driver connection of its
    own, so nothing in this process hears of it."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute(sql)
            raw.driver_connection.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()


DISABLE = "UPDATE oauth_clients SET active = false WHERE client_id = 'lgsp'"


def test_disabling_a_client_in_this_process_takes_effect_at_once(app, client, runner, machine):
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 200
    result = runner.invoke(args=["clients", "disable", "lgsp"])
    assert result.exit_code == 0, result.output
    refused = client.post(TOKEN, data=GRANT, headers=basic("lgsp"))
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"


def test_a_change_made_elsewhere_is_seen_within_the_cache_time(app, client, machine, monkeypatch):
    clock = FakeClock(5000.0)
    monkeypatch.setattr(store, "time", clock)
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 200
    change_elsewhere(app, DISABLE)
    clock.now += app.config["CLIENT_CACHE_SECONDS"] - 0.5
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 200
    clock.now += 1
    refused = client.post(TOKEN, data=GRANT, headers=basic("lgsp"))
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"


def test_the_secret_is_checked_on_every_request(client, machine):
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 200
    wrong = client.post(TOKEN, data=GRANT, headers=basic("lgsp", SECRET + "x"))
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in wrong.headers


def test_a_secret_rotated_elsewhere_stops_working_within_the_cache_time(
    app, client, machine, monkeypatch
):
    from idp.security import hash_secret

    clock = FakeClock(5000.0)
    monkeypatch.setattr(store, "time", clock)
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 200
    new_hash = hash_secret("a-new-secret-" + "y" * 40)
    change_elsewhere(
        app, f"UPDATE oauth_clients SET client_secret_hash = '{new_hash}' WHERE client_id = 'lgsp'"
    )
    clock.now += app.config["CLIENT_CACHE_SECONDS"] + 0.5
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 401
    renewed = basic("lgsp", "a-new-secret-" + "y" * 40)
    assert client.post(TOKEN, data=GRANT, headers=renewed).status_code == 200


@pytest.mark.parametrize("app_config", [{"CLIENT_CACHE_SECONDS": 0}])
def test_without_the_cache_a_change_elsewhere_is_seen_at_once(app, client, machine):
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 200
    change_elsewhere(app, DISABLE)
    assert client.post(TOKEN, data=GRANT, headers=basic("lgsp")).status_code == 401


def test_unknown_clients_are_not_remembered(app, client):
    assert client.post(TOKEN, data=GRANT, headers=basic("later")).status_code == 401
    make_machine_client(app, "later", "x")
    assert client.post(TOKEN, data=GRANT, headers=basic("later")).status_code == 200
    with app.app_context():
        cache = app.extensions[store.CLIENT_CACHE_KEY]
        for n in range(store._ClientCache.MAX_ENTRIES + 10):
            # Malformed and unknown ids cost a query each, never an entry.
            assert store.find_active_client_cached(f"nobody-{n}") is None
        assert set(cache.entries) == {"later"}
