"""Issue 8, finding 6: prompt=login and max_age bypassed with an old login ticket.

A request needing a fresh sign-in sends the person to the sign-in page with a
`login_ticket` in the way back; once back, a session authenticated after the ticket was
made counts as fresh. The attack: a ticket obtained anonymously, by anyone, opened in the
victim's signed-in browser, returned a code at once with an old auth_time.

Now a ticket counts only in the browser it was issued to (a random value kept in that
browser's page session), only for the authorization request it was made for (a digest of
its parameters), and only once.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit

import pytest
from helpers.clients import make_client
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.session_flow import age_sessions

NONCE = "n-ticket-1"


@pytest.fixture
def victim(app, client, make_user):
    make_user()
    make_client(app)
    return RelyingParty(client)


def way_back(response) -> str:
    """The authorization URL with its login ticket, from a redirect to the sign-in page."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login", location
    back = query_of(location)["next"]
    assert "login_ticket=" in back
    return back


def asks_to_sign_in_again(response) -> bool:
    location = response.headers.get("Location", "")
    return (
        response.status_code == 302
        and urlsplit(location).path == "/login"
        and query_of(location).get("force") == "1"
    )


def auth_time_of(rp: RelyingParty, response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    code = query_of(response.headers["Location"])["code"]
    return rp.validate_id_token(rp.exchange_code(code)["id_token"], nonce=NONCE)["auth_time"]


def test_an_anonymous_ticket_opened_in_the_victims_browser_asks_for_the_password(app, victim):
    """The reported attack."""
    attacker = RelyingParty(app.test_client())
    back = way_back(attacker.authorize(prompt="login", nonce=NONCE, state="x"))
    victim.login()  # later than the ticket: its auth_time is not older than the ticket
    assert asks_to_sign_in_again(victim.http.get(back))


def test_the_same_with_max_age(app, victim):
    attacker = RelyingParty(app.test_client())
    back = way_back(attacker.authorize(max_age="0", nonce=NONCE))
    victim.login()
    assert asks_to_sign_in_again(victim.http.get(back))


def test_a_ticket_counts_only_for_the_request_it_was_made_for(victim):
    victim.login()
    back = way_back(victim.authorize(prompt="login", nonce=NONCE, state="a"))
    ticket = query_of(back)["login_ticket"]
    victim.login()  # signed in again in this browser after the ticket: fresh for request A
    for other in (
        {"state": "b"},
        {"nonce": "another"},
        {"scope": "openid email"},
        {"claims": json.dumps({"userinfo": {"email": None}})},
        {"redirect_uri": REDIRECT_URI + "?x=1"},
    ):
        params = {
            "response_type": "code",
            "client_id": "webmail",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "prompt": "login",
            "nonce": NONCE,
            "state": "a",
            **other,
            "login_ticket": ticket,
        }
        response = victim.http.get("/oauth2/authorize?" + urlencode(params))
        assert asks_to_sign_in_again(response) or "code" not in response.headers.get(
            "Location", ""
        ), other
    # The request it was made for still works once.
    assert "code" in query_of(victim.http.get(back).headers["Location"])


def test_a_ticket_counts_once(app, victim):
    victim.login()
    back = way_back(victim.authorize(prompt="login", nonce=NONCE))
    signed = victim.login(next_url=back)
    first = victim.http.get(signed.headers["Location"])
    assert "code" in query_of(first.headers["Location"])
    assert asks_to_sign_in_again(victim.http.get(back))


def test_prompt_login_still_returns_a_fresh_code_without_a_loop(app, victim):
    victim.tokens(nonce=NONCE)
    age_sessions(app, 600)
    before = victim.validate_id_token(victim.tokens(nonce=NONCE)["id_token"], nonce=NONCE)
    response = victim.sign_in_through(victim.authorize(prompt="login", nonce=NONCE))
    assert auth_time_of(victim, response) > before["auth_time"] + 500


def test_max_age_still_returns_a_fresh_code_without_a_loop(app, victim):
    victim.tokens(nonce=NONCE)
    age_sessions(app, 600)
    response = victim.sign_in_through(victim.authorize(max_age="60", nonce=NONCE))
    assert response.status_code == 302 and "code" in query_of(response.headers["Location"])


def test_prompt_login_with_consent_does_not_loop(app, victim):
    """The consent page carries the ticket to the decision, which spends it."""
    make_client(app, "outside", first_party=False, client_name="Cổng dữ liệu mở")
    outside = RelyingParty(victim.http, "outside")
    victim.login()
    response = outside.sign_in_through(outside.authorize(prompt="login", nonce=NONCE))
    allowed = outside.consent(response)
    assert allowed.status_code == 302, allowed.get_data(as_text=True)[:300]
    assert "code" in query_of(allowed.headers["Location"])


def test_two_tabs_each_with_their_own_ticket(app, victim):
    victim.login()
    first = way_back(victim.authorize(prompt="login", nonce=NONCE, state="tab1"))
    second = way_back(victim.authorize(prompt="login", nonce=NONCE, state="tab2"))
    victim.login()
    assert "code" in query_of(victim.http.get(second).headers["Location"])
    assert "code" in query_of(victim.http.get(first).headers["Location"])
