"""Issue 8, finding 1: stealing a code through the redirect URI (RFC 9700 4.1, RFC 8252 7.3).

The province's HauGiang App manifest (clients/haugiang-app.toml) registers
http://127.0.0.1/oauth2redirect, where RFC 8252 7.3 lets the app choose any port. The
attack: a redirect_uri that Python's URL parser reads as that loopback address, but a
browser reads as another host (a backslash, user information, ...), with
response_mode=form_post, so that the browser posts the code to the attacker.

Now a presented redirect_uri is used only if it is, character for character, a registered
one or (native clients only) a registered loopback one with a port put in; anything else
gets the error page before sign-in, with no Location. The browser-level check of the
form_post page is in test_form_post_browser.py.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from helpers import pages
from helpers.clients import initial_access_token, insert_client
from helpers.oidc_flow import pkce_pair
from helpers.people import EMAIL, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
APP_MANIFEST = ROOT / "clients" / "haugiang-app.toml"
REGISTERED = "http://127.0.0.1/oauth2redirect"

# Each is refused: the error page, status 400, no Location, signed in or not.
ATTACKS = [
    # The reported attack: Python reads host 127.0.0.1, a browser reads localhost:7777.
    "http://localhost:7777\\@127.0.0.1:8080/oauth2redirect",
    "http://localhost:7777%5C@127.0.0.1:8080/oauth2redirect",
    "http://127.0.0.1:8080\\@localhost:7777/oauth2redirect",
    "http://127.0.0.1:8080\\evil.example/oauth2redirect",
    "http://127.0.0.1\\evil.example:8080/oauth2redirect",
    # User information.
    "http://u:p@127.0.0.1:8080/oauth2redirect",
    "http://evil.example@127.0.0.1:8080/oauth2redirect",
    "http://127.0.0.1:8080@evil.example/oauth2redirect",
    "http://@127.0.0.1:8080/oauth2redirect",
    "http://127.0.0.1%40evil.example:8080/oauth2redirect",
    "http://127.0.0.1:8080%40evil.example/oauth2redirect",
    "http://evil.example%40127.0.0.1:8080/oauth2redirect",
    # Percent-encoded host parts.
    "http://127.0.0.%31:8080/oauth2redirect",
    "http://%31%32%37.0.0.1:8080/oauth2redirect",
    # A fragment, tabs, newlines, spaces (browsers and urlsplit drop some of them).
    "http://127.0.0.1:8080/oauth2redirect#",
    "http://127.0.0.1:8080/oauth2redirect#x",
    "http://127.0.0.1:80\t80/oauth2redirect",
    "http://127.0.0.1:8080/oauth2\nredirect",
    "http://127.0.0.1:8080/oauth2redirect\r\n",
    "\thttp://127.0.0.1:8080/oauth2redirect",
    " http://127.0.0.1:8080/oauth2redirect",
    "http://127.0.0.1:8080/oauth2redirect ",
    "http://local\thost:7777\\@127.0.0.1:8080/oauth2redirect",
    # Other names for the host than the registered one.
    "http://localhost:8080/oauth2redirect",
    "http://LOCALHOST:8080/oauth2redirect",
    "http://[::1]:8080/oauth2redirect",
    "http://[0:0:0:0:0:0:0:1]:8080/oauth2redirect",
    "http://[::ffff:127.0.0.1]:8080/oauth2redirect",
    "http://127.0.0.1.:8080/oauth2redirect",
    "http://127.1:8080/oauth2redirect",
    "http://2130706433:8080/oauth2redirect",
    "http://0x7f.0.0.1:8080/oauth2redirect",
    "http://127.000.000.001:8080/oauth2redirect",
    "http://127.0.0.2:8080/oauth2redirect",
    "http://１２７.０.０.１:8080/oauth2redirect",
    # Ports: zero, out of range, not a number, not canonical.
    "http://127.0.0.1:0/oauth2redirect",
    "http://127.0.0.1:65536/oauth2redirect",
    "http://127.0.0.1:99999999999/oauth2redirect",
    "http://127.0.0.1:-1/oauth2redirect",
    "http://127.0.0.1:x/oauth2redirect",
    "http://127.0.0.1:/oauth2redirect",
    "http://127.0.0.1:08080/oauth2redirect",
    "http://127.0.0.1:+8080/oauth2redirect",
    "http://127.0.0.1:８０８０/oauth2redirect",
    "http://127.0.0.1:8080:9090/oauth2redirect",
    # Scheme and case differences.
    "HTTP://127.0.0.1:8080/oauth2redirect",
    "Http://127.0.0.1:8080/oauth2redirect",
    "https://127.0.0.1:8080/oauth2redirect",
    "http:127.0.0.1:8080/oauth2redirect",
    "http:/127.0.0.1:8080/oauth2redirect",
    "http:///127.0.0.1:8080/oauth2redirect",
    "//127.0.0.1:8080/oauth2redirect",
    # The path and the query are the registered ones exactly.
    "http://127.0.0.1:8080/OAUTH2REDIRECT",
    "http://127.0.0.1:8080/oauth2redirect/",
    "http://127.0.0.1:8080//oauth2redirect",
    "http://127.0.0.1:8080/./oauth2redirect",
    "http://127.0.0.1:8080/x/../oauth2redirect",
    "http://127.0.0.1:8080/oauth2redirect?",
    "http://127.0.0.1:8080/oauth2redirect?x=1",
    "http://127.0.0.1:8080/oauth2%72edirect",
    "http://127.0.0.1:8080/oauth2redirect%00",
]


@pytest.fixture
def native(app, runner, make_user):
    """The HauGiang App from the province's manifest, and a civil servant."""
    result = runner.invoke(args=["clients", "apply", str(APP_MANIFEST)])
    assert result.exit_code == 0, result.output
    make_user(EMAIL, PASSWORD)
    return "haugiang-app"


def add_client(app, client_id: str, redirect_uris: list[str], **metadata) -> None:
    """A first-party public client stored directly (manifests and registration check theirs)."""
    insert_client(
        app,
        client_id,
        {
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid",
            **metadata,
        },
    )


def sign_in(client) -> None:
    response = pages.sign_in(client, EMAIL, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def authorize(client, client_id: str, redirect_uri: str, **extra: str):
    _verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return client.get("/oauth2/authorize?" + urlencode(params))


def assert_error_page(response) -> None:
    assert response.status_code == 400, (response.status_code, response.headers.get("Location"))
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'name="code"' not in page and "form-post" not in page


# ---- the reported attack


def test_backslash_userinfo_form_post_attack_is_refused_before_sign_in(native, client):
    attack = "http://localhost:7777\\@127.0.0.1:8080/oauth2redirect"
    # Before sign-in: the error page, not the sign-in page.
    assert_error_page(authorize(client, native, attack, response_mode="form_post"))
    # A signed-in victim (first-party client: no consent) gets no code either.
    sign_in(client)
    assert_error_page(authorize(client, native, attack, response_mode="form_post"))


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_strings_get_the_error_page(native, client, attack):
    assert_error_page(authorize(client, native, attack))
    sign_in(client)
    for mode in ("query", "form_post"):
        assert_error_page(authorize(client, native, attack, response_mode=mode))
    # Also when Authlib answers unsupported_response_type with a redirect.
    assert_error_page(authorize(client, native, attack, response_type="token"))


@pytest.mark.parametrize(
    "registered, attacks",
    [
        (
            "http://[::1]/cb",
            [
                "http://[0::1]:8080/cb",
                "http://[0:0:0:0:0:0:0:1]:8080/cb",
                "http://[::1%25eth0]:8080/cb",
                "http://[::1]%3A8080/cb",
                "http://[::1]:8080@evil.example/cb",
                "http://127.0.0.1:8080/cb",
                "http://[::1]:0/cb",
                "http://[::1]:65536/cb",
            ],
        ),
        (
            "http://localhost/cb",
            [
                "http://127.0.0.1:8080/cb",
                "http://LocalHost:8080/cb",
                "http://localhost.:8080/cb",
                "http://localhost.evil.example:8080/cb",
                "http://localhost:8080\\@evil.example/cb",
            ],
        ),
    ],
)
def test_other_loopback_hosts_vary_only_in_port(app, client, make_user, registered, attacks):
    add_client(app, "desktop", [registered], application_type="native")
    make_user(EMAIL, PASSWORD)
    sign_in(client)
    for attack in attacks:
        assert_error_page(authorize(client, "desktop", attack))
    legit = registered.replace("/cb", ":8080/cb")
    response = authorize(client, "desktop", legit)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(legit + "?code=")


# ---- what still works, and only for native clients


def test_native_loopback_flow_with_any_port(native, client):
    sign_in(client)
    for port in (1, 8080, 53412, 65535):
        redirect_uri = f"http://127.0.0.1:{port}/oauth2redirect"
        verifier, challenge = pkce_pair()
        response = authorize(client, native, redirect_uri, code_challenge=challenge, nonce="n1")
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        location = response.headers["Location"]
        assert location.startswith(redirect_uri + "?")
        code = parse_qs(urlsplit(location).query)["code"][0]
        token = client.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": native,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert token.status_code == 200, token.get_data(as_text=True)
        assert "id_token" in token.get_json()


def test_form_post_goes_to_the_registered_origin_only(native, client):
    sign_in(client)
    redirect_uri = "http://127.0.0.1:8080/oauth2redirect"
    response = authorize(client, native, redirect_uri, response_mode="form_post")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    actions = [unescape(a) for a in re.findall(r'<form[^>]* action="([^"]*)"', page)]
    assert actions == [redirect_uri]
    csp = response.headers["Content-Security-Policy"]
    assert "form-action http://127.0.0.1:8080;" in csp + ";"


def test_error_redirects_use_the_checked_uri(native, client):
    """An error after the redirect URI is checked goes back to it, rebuilt, never elsewhere."""
    redirect_uri = "http://127.0.0.1:8080/oauth2redirect"
    response = authorize(client, native, redirect_uri, prompt="none")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    assert parse_qs(urlsplit(location).query)["error"] == ["login_required"]


def test_web_clients_get_no_port_variance(app, client, make_user):
    add_client(app, "web", ["http://127.0.0.1/cb", "http://localhost/cb"])
    make_user(EMAIL, PASSWORD)
    sign_in(client)
    for presented in ("http://127.0.0.1:8080/cb", "http://localhost:8080/cb"):
        assert_error_page(authorize(client, "web", presented))
    response = authorize(client, "web", "http://127.0.0.1/cb")
    assert response.headers["Location"].startswith("http://127.0.0.1/cb?code=")


def test_registration_refuses_ambiguous_redirect_uris(app, client):
    """Dynamic registration refuses what parsers read differently, like the endpoint does."""

    for uri in (
        "http://127.0.0.1\\@evil.example/cb",
        "https://rp.example\\@evil.example/cb",
        "https://rp.example\\.evil.example/cb",
        "https://rp.exa%6Dple/cb",
        "https://rp.example:x/cb",
        "https://rp.example:0/cb",
        "https://rp.example:/cb",
        "http://[::1%25eth0]/cb",
    ):
        token = initial_access_token(app, expires_in=60, note="test")
        response = client.post(
            "/oauth2/register",
            json={"redirect_uris": [uri], "application_type": "native"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 400, (uri, response.get_data(as_text=True))
        assert response.get_json()["error"] == "invalid_redirect_uri", uri


# ---- the end-session endpoint: post_logout_redirect_uri (RP-Initiated Logout 1.0, 3)

POST_LOGOUT = "https://rp.example/bye"
POST_LOGOUT_ATTACKS = [
    "https://rp.example/bye\\@evil.example",
    "https://rp.example\\@evil.example/bye",
    "https://u:p@rp.example/bye",
    "https://rp.example@evil.example/bye",
    "https://rp.example%40evil.example/bye",
    "https://rp.example/bye#x",
    "https://rp.example/bye\t",
    " https://rp.example/bye",
    "https://RP.example/bye",
    "HTTPS://rp.example/bye",
    "https://rp.example./bye",
    "https://rp.example:443/bye",
    "https://rp.example:8443/bye",
    "https://rp.example/bye/",
    "https://rp.example/bye?x=1",
    "http://rp.example/bye",
    "//rp.example/bye",
]


@pytest.mark.parametrize("attack", POST_LOGOUT_ATTACKS)
def test_post_logout_redirect_uri_attacks_get_the_error_page(app, client, attack):
    add_client(app, "rp", ["https://rp.example/cb"], post_logout_redirect_uris=[POST_LOGOUT])
    response = client.get(
        "/oauth2/logout?"
        + urlencode({"client_id": "rp", "post_logout_redirect_uri": attack, "state": "s"})
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_post_logout_loopback_gets_no_port_variance(app, client):
    add_client(
        app,
        "desktop",
        ["http://127.0.0.1/cb"],
        application_type="native",
        post_logout_redirect_uris=["http://127.0.0.1/bye"],
    )
    query = {"client_id": "desktop", "post_logout_redirect_uri": "http://127.0.0.1:8080/bye"}
    response = client.get("/oauth2/logout?" + urlencode(query))
    assert response.status_code == 400 and "Location" not in response.headers


def test_post_logout_goes_to_the_registered_uri(app, client):
    add_client(app, "rp", ["https://rp.example/cb"], post_logout_redirect_uris=[POST_LOGOUT])
    query = {"client_id": "rp", "post_logout_redirect_uri": POST_LOGOUT, "state": "s"}
    response = client.get("/oauth2/logout?" + urlencode(query))
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT + "?state=s"


# ---- the matching rule itself, on generated strings


def test_only_the_registered_string_with_a_port_is_ever_accepted():
    """Strings made by inserting characters into a legitimate redirect URI: whatever is
    accepted is the registered URI with a canonical port, character for character."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from idp.clients.uris import match_redirect_uri

    legit = "http://127.0.0.1:8080/oauth2redirect"
    alphabet = st.sampled_from(list("\\@%:/.#?&[]0123456789 \t\nLlocalhost") + ["%5C", "%40"])

    @settings(max_examples=600, deadline=None, database=None, derandomize=True)
    @given(st.lists(st.tuples(st.integers(0, len(legit)), alphabet), max_size=4))
    def check(insertions):
        presented = legit
        for position, text in insertions:
            presented = presented[:position] + text + presented[position:]
        used = match_redirect_uri(presented, [REGISTERED], loopback_port=True)
        if used is not None:
            assert used == presented
            port = presented.removeprefix("http://127.0.0.1:").removesuffix("/oauth2redirect")
            assert port.isdigit() and str(int(port)) == port and 0 < int(port) <= 65535
        assert match_redirect_uri(presented, [REGISTERED], loopback_port=False) is None

    check()
