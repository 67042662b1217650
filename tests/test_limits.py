"""Rate limits on the endpoints programs call (idp.limits): what counts, against what key,
the 429 answer, the settings; with the counters in memory and in Redis."""

from __future__ import annotations

import base64

import pytest
from helpers.clients import (
    SECRET,
    bearer,
    initial_access_token,
    make_client,
    make_machine_client,
    register_client,
)
from helpers.limits import limit_storage, redis_keys

from idp import create_app
from idp.settings import SettingsError

SMALL = {
    "RATE_LIMIT_TOKEN": "3 per minute",
    "RATE_LIMIT_INTROSPECTION": "3 per minute",
    "RATE_LIMIT_REVOCATION": "3 per minute",
    "RATE_LIMIT_REGISTRATION": "3 per minute",
    "RATE_LIMIT_FAILURES": "4 per minute",
}
CLIENT_IP = "192.0.2.20"
OTHER_IP = "192.0.2.21"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request):
    with limit_storage(request.param) as settings:
        yield settings | {"kind": request.param}


@pytest.fixture
def app_config(storage):
    return SMALL | {k: v for k, v in storage.items() if k != "kind"}


def http(app, ip: str = CLIENT_IP):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def client_credentials(client, client_id: str = "lgsp", secret: str = SECRET):
    return client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "lgsp.read"},
        auth=(client_id, secret),
    )


def assert_limited(response, window_seconds: int = 60) -> None:
    """The answer to a call over a limit (docs/security.md "Rate limits")."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable"
    assert body["error_description"] and body["error_description"].isascii()
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds
    assert response.headers["Cache-Control"] == "no-store"


def test_token_calls_count_per_authenticated_client(app, storage):
    make_machine_client(app, "lgsp", "lgsp.read")
    make_machine_client(app, "reports", "lgsp.read")
    one, two = http(app), http(app, OTHER_IP)
    # The client's successes count wherever they come from ...
    assert [client_credentials(c).status_code for c in (one, two, one)] == [200] * 3
    assert_limited(client_credentials(two))
    # ... and another client, from the same addresses, has its own allowance.
    assert client_credentials(one, "reports").status_code == 200
    if storage["kind"] == "redis":
        assert redis_keys(storage["RATE_LIMIT_KEY_PREFIX"]), "the counters are in Redis"


def test_failures_count_per_client_address_whatever_the_client(app):
    make_machine_client(app, "lgsp", "lgsp.read")
    make_machine_client(app, "reports", "lgsp.read")
    guesser = http(app)
    answers = [
        client_credentials(guesser, client_id, "wrong").status_code
        for client_id in ("lgsp", "reports", "lgsp", "nobody")
    ]
    assert answers == [401] * 4
    # The address is refused now, even with the right secret ...
    assert_limited(client_credentials(guesser, "reports"))
    # ... and at the other limited endpoints, which share the failures' counter.
    assert_limited(guesser.post("/oauth2/introspect", data={"token": "x"}, auth=("lgsp", SECRET)))
    # The clients themselves, from elsewhere, are served: failures do not count against them.
    assert client_credentials(http(app, OTHER_IP)).status_code == 200
    assert client_credentials(http(app, OTHER_IP), "reports").status_code == 200


def test_a_refused_call_is_not_a_failure(app):
    """Calls refused over the client's limit do not count as failures of its address: once
    its own window allows it again, the client is served."""
    make_machine_client(app, "lgsp", "lgsp.read")
    c = http(app)
    for _ in range(3):
        assert client_credentials(c).status_code == 200
    for _ in range(6):
        assert_limited(client_credentials(c))
    keys = _keys(app)
    # Only the client's own counter is full; the address has no failure.
    assert any("client:lgsp" in k for k in keys), keys
    assert [k for k in keys if "failures" in k] == []


def _keys(app) -> list[str]:
    """The names of the counters of this app's limiter, in memory or in Redis."""
    storage = app.extensions["idp.limits"].storage
    prefix = app.config["RATE_LIMIT_KEY_PREFIX"]
    if isinstance(storage.storage, dict):
        names = list(storage.storage)
    else:
        names = [k.decode() for k in storage.storage.scan_iter(match=f"*/{prefix}/*")]
    return [k for k in names if f"/{prefix}/" in k]


@pytest.mark.parametrize("endpoint", ["introspect", "revoke"])
def test_introspection_and_revocation_are_limited_per_client(app, endpoint):
    make_machine_client(app, "lgsp", "lgsp.read")
    c = http(app)
    path = f"/oauth2/{endpoint}"
    for _ in range(3):
        assert c.post(path, data={"token": "not-a-token"}, auth=("lgsp", SECRET)).status_code == 200
    assert_limited(c.post(path, data={"token": "not-a-token"}, auth=("lgsp", SECRET)))
    # Another endpoint has its own counter for the same client.
    other = "revoke" if endpoint == "introspect" else "introspect"
    assert c.post(f"/oauth2/{other}", data={"token": "x"}, auth=("lgsp", SECRET)).status_code == 200


def test_registration_is_limited_per_address_and_management_per_client(app):
    c = http(app)
    token = initial_access_token(app, uses=10)
    registered = [register_client(c, token) for _ in range(3)]
    refused = c.post(
        "/oauth2/register", json={"redirect_uris": ["https://rp.example/cb"]}, headers=bearer(token)
    )
    assert_limited(refused)
    # Another address may register; a bad initial access token is a failure of its address.
    elsewhere = http(app, OTHER_IP)
    assert register_client(elsewhere, token)["client_id"]
    for _ in range(4):
        bad = elsewhere.post("/oauth2/register", json={"redirect_uris": []}, headers=bearer("x"))
        assert bad.status_code == 401
    assert_limited(elsewhere.post("/oauth2/register", json={}, headers=bearer("x")))
    # Management (RFC 7592) counts per client, on success.
    first = registered[0]
    path = first["registration_client_uri"].removeprefix("http://idp.test")
    reader = http(app, "192.0.2.99")
    for _ in range(3):
        assert (
            reader.get(path, headers=bearer(first["registration_access_token"])).status_code == 200
        )
    assert_limited(reader.get(path, headers=bearer(first["registration_access_token"])))
    second = registered[1]
    other_path = second["registration_client_uri"].removeprefix("http://idp.test")
    assert (
        reader.get(other_path, headers=bearer(second["registration_access_token"])).status_code
        == 200
    )


@pytest.mark.parametrize(
    "app_config",
    [SMALL | {k: "1 per hour" for k in SMALL}],
)
def test_pages_and_other_endpoints_are_not_limited(app, make_user):
    make_user()
    c = http(app)
    for path in (
        "/.well-known/openid-configuration",
        "/jwks",
        "/login",
        "/healthz",
    ):
        for _ in range(3):
            assert c.get(path).status_code == 200, path
    for _ in range(3):
        assert c.get("/oauth2/userinfo").status_code == 401
    # Nor does the limiter look at them (its hook before every request is taken out).
    limiter = app.extensions["idp.limits"]
    assert limiter._check_request_limit not in app.before_request_funcs[None]


# -- the key of a call ----------------------------------------------------------------------


def _key(app, path="/oauth2/token", **request):
    from idp.limits import client_or_address

    with app.test_request_context(path, method="POST", **request):
        from flask import request as current

        current.environ.setdefault("REMOTE_ADDR", CLIENT_IP)
        return client_or_address()


def _basic(raw: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


@pytest.mark.parametrize("app_config", [{}])
def test_the_key_names_a_client_only_with_its_credentials(sqlite_app):
    app = sqlite_app
    ip = {"environ_base": {"REMOTE_ADDR": "2001:db8:5:6::77"}}
    assert _key(app, headers=_basic("webmail:s3cret"), **ip) == "client:webmail"
    # client_id in Basic is form-encoded (RFC 6749 2.3.1), as Authlib reads it.
    assert _key(app, headers=_basic("web%20mail:s"), **ip) == "client:web mail"
    assert _key(app, data={"client_id": "app", "client_secret": "s"}, **ip) == "client:app"
    assert _key(app, data={"client_id": "app", "client_assertion": "e.y.j"}, **ip) == "client:app"
    # Without credentials (a public client, an assertion without client_id, broken Basic):
    # the client address, an IPv6 /64 as one.
    address = "addr:2001:db8:5:6::/64"
    assert _key(app, data={"client_id": "haugiang-app"}, **ip) == address
    assert _key(app, data={"client_assertion": "e.y.j"}, **ip) == address
    assert _key(app, headers={"Authorization": "Basic !!!"}, **ip) == address
    assert _key(app, headers=_basic("no-colon"), **ip) == address
    assert _key(app, headers=_basic("\xff:x"), **ip) == "client:\xff"
    # Registration: the initial access token names no client; management names the path's.
    assert _key(app, "/oauth2/register", headers=bearer("t"), **ip) == address
    with app.test_request_context("/oauth2/register/abc", headers=bearer("t"), **ip):
        from flask import request

        request.view_args = {"client_id": "abc"}
        from idp.limits import client_or_address

        assert client_or_address() == "client:abc"
    # Control characters never reach a key; a long client_id is cut.
    assert _key(app, headers=_basic("a\x00b:s"), **ip) == "client:a?b"
    assert len(_key(app, headers=_basic("x" * 5000 + ":s"), **ip)) <= 7 + 200


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"RATE_LIMIT_TOKEN": "lots"},
        {"RATE_LIMIT_TOKEN": ""},
        {"RATE_LIMIT_INTROSPECTION": 100},
        {"RATE_LIMIT_FAILURES": "10 per fortnight"},
        {"RATE_LIMIT_REVOCATION": "0 per minute"},
        {"RATE_LIMIT_REGISTRATION": "10 per minute; 0 per hour"},
        {"REDIS_URL": "http://127.0.0.1:6379"},
        {"REDIS_URL": 6379},
    ],
)
def test_bad_limit_settings_refuse_to_start(tmp_path, settings):
    from helpers.apps import BASE_CONFIG

    with pytest.raises(SettingsError, match="IDP_(RATE_LIMIT|REDIS_URL)"):
        create_app(BASE_CONFIG | {"INSTANCE_PATH": str(tmp_path)} | settings)


def test_limits_are_settings_from_the_environment(tmp_path, monkeypatch):
    from helpers.apps import BASE_CONFIG

    monkeypatch.setenv("IDP_RATE_LIMIT_TOKEN", "7 per second; 300 per minute")
    monkeypatch.setenv("IDP_REDIS_URL", "redis://127.0.0.1:6379/3")
    app = create_app(BASE_CONFIG | {"INSTANCE_PATH": str(tmp_path)})
    assert app.config["RATE_LIMIT_TOKEN"] == "7 per second; 300 per minute"
    assert app.config["REDIS_URL"] == "redis://127.0.0.1:6379/3"


@pytest.mark.redis
def test_hosts_sharing_redis_share_the_counters(sqlite_url, tmp_path):
    """Two hosts (two applications) behind one load balancer, one Redis."""
    from helpers.apps import app_on

    with limit_storage("redis") as storage:
        config = SMALL | storage
        with app_on(sqlite_url, config) as one, app_on(sqlite_url, config) as two:
            make_client(
                one, "lgsp", grant_types=["client_credentials"], scope="lgsp.read", redirect_uris=[]
            )
            assert client_credentials(http(one)).status_code == 200
            assert client_credentials(http(two)).status_code == 200
            assert client_credentials(http(one)).status_code == 200
            assert_limited(client_credentials(http(two)))


def test_the_benchmarks_raise_every_limit_out_of_reach():
    from helpers import limits as test_limits

    from bench.prepare import UNLIMITED
    from idp.limits import LIMIT_SETTINGS

    assert sorted(UNLIMITED) == sorted(LIMIT_SETTINGS)
    # and so do the tests that attack something else from loopback
    assert sorted(test_limits.UNLIMITED) == sorted(LIMIT_SETTINGS)
