"""Issue 8, finding 10: a dynamically registered client passing as a provincial application.

Anyone holding an initial access token can register a client (RFC 7591) and call it
"Thư điện tử công vụ", the name of the province's webmail. The consent page now says, in
Vietnamese and then in English, that the application registered itself and was not
verified by the province, and shows where it will send the person; and such a client is
never first-party (it never skips consent), whatever its metadata, the database or an
administrator's command says, until the administrators take it over with a manifest.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.clients import client_row, initial_access_token, make_client, register_client
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of

LOOK_ALIKE = "Thư điện tử công vụ"
WARNING_VI = "chưa được tỉnh xác minh"
WARNING_EN = "not been verified by the province"


@pytest.fixture
def browser(app, client, make_user):
    make_user()
    make_client(app)
    rp = RelyingParty(client)
    rp.login()
    return rp


@pytest.fixture
def register(app, client):
    token = initial_access_token(app, uses=10)

    def post(**metadata):
        return register_client(client, token, **{"scope": "openid email", **metadata})

    return post


def test_a_self_registered_client_is_marked_not_verified(browser, register):
    registered = register(client_name=LOOK_ALIKE)
    rp = RelyingParty(browser.http, registered["client_id"], registered["client_secret"])
    response = rp.authorize(scope="openid email")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="consent_action"' in page
    assert LOOK_ALIKE in page and WARNING_VI in page
    # Where "Cho phép" leads: the host of the redirect URI, which a look-alike name hides.
    assert "rp.example" in page
    english = rp.authorize(scope="openid email", ui_locales="en").get_data(as_text=True)
    assert WARNING_EN in english


def test_a_client_of_the_administrators_carries_no_such_warning(app, browser):
    make_client(app, "outside", first_party=False, client_name="Cổng dữ liệu mở")
    page = RelyingParty(browser.http, "outside").authorize().get_data(as_text=True)
    assert 'name="consent_action"' in page and WARNING_VI not in page


@pytest.mark.parametrize("claim", [{"first_party": True}, {"first_party": "true"}])
def test_registration_cannot_make_a_first_party_client(app, browser, register, claim):
    registered = register(client_name=LOOK_ALIKE, **claim)
    assert "first_party" not in registered
    assert client_row(app, registered["client_id"]).first_party is False
    rp = RelyingParty(browser.http, registered["client_id"], registered["client_secret"])
    assert 'name="consent_action"' in rp.authorize().get_data(as_text=True)


def test_a_dynamic_client_marked_first_party_still_asks_for_consent(app, browser, register):
    """Whatever the row says (an edit by hand, an old bug), a self-registered client asks."""
    from idp.clients.models import Client
    from idp.extensions import db

    registered = register(client_name=LOOK_ALIKE)
    with app.app_context():
        db.session.execute(
            sa.update(Client)
            .where(Client.client_id == registered["client_id"])
            .values(first_party=True)
        )
        db.session.commit()
    rp = RelyingParty(browser.http, registered["client_id"], registered["client_secret"])
    page = rp.authorize().get_data(as_text=True)
    assert 'name="consent_action"' in page and WARNING_VI in page
    values = query_of(rp.authorize(prompt="none").headers["Location"])
    assert values["error"] == "consent_required"


def test_the_command_line_refuses_to_make_a_dynamic_client_first_party(app, register):
    registered = register(client_name=LOOK_ALIKE)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["clients", "update", registered["client_id"], "--first-party"])
    assert result.exit_code == 1, result.output
    assert "first-party" in result.stderr or "first_party" in result.stderr
    assert client_row(app, registered["client_id"]).first_party is False


def test_the_client_cannot_make_itself_first_party_by_updating(app, client, register):
    """RFC 7592 2.2: the client's own update goes through the same rules."""
    registered = register(client_name=LOOK_ALIKE)
    response = client.put(
        registered["registration_client_uri"].removeprefix("http://idp.test"),
        json={
            "client_id": registered["client_id"],
            "redirect_uris": [REDIRECT_URI],
            "client_name": LOOK_ALIKE,
            "first_party": True,
        },
        headers={"Authorization": f"Bearer {registered['registration_access_token']}"},
    )
    assert response.status_code == 200, response.get_json()
    assert client_row(app, registered["client_id"]).first_party is False
