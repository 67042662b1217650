"""Issue 8, finding 2: the `claims` parameter went past the client's scopes and past consent.

The attack: a client registered with `scope: openid` asked for e-mail, name, title, roles
and unit with the OIDC Core 5.5 `claims` parameter, and got them in the ID token and at
userinfo, while the consent page said only "who you are"; later requests got a code
without being asked again.

Now a claim is released only when a scope the client is registered for covers it
(profile, email, phone, org), the consent page lists every scope and every individually
requested claim that will be released, and a remembered consent covers exactly what was
shown: asking for more claims shows the page again, or is consent_required with
prompt=none. The ID token, userinfo and the JWT access token are all checked.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of

NONCE = "n-claims-1"
PERSONAL = (
    "name",
    "family_name",
    "given_name",
    "preferred_username",
    "email",
    "email_verified",
    "phone_number",
    "title",
    "roles",
    "unit_code",
    "unit_name",
    "unit_path",
)
EVERYTHING = json.dumps({"id_token": dict.fromkeys(PERSONAL), "userinfo": dict.fromkeys(PERSONAL)})


@pytest.fixture
def browser(app, client, make_unit, make_user):
    """A signed-in browser of a civil servant with every claim filled in."""
    from idp.directory.models import User
    from idp.extensions import db

    make_unit("STC", name="Sở Tài chính")
    make_user(roles=["document_signer"], unit="STC")
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        user.title = "Chuyên viên"
        user.phone_number = "+84 912 345 678"
        db.session.commit()
    make_client(app)  # the first-party webmail, so that RelyingParty can sign in
    rp = RelyingParty(client)
    rp.login()
    return rp


def consent_page(response) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="consent_action"' in page, page[:400]
    return page


def allow(rp: RelyingParty, response) -> str:
    """Press "Cho phép" on the consent page: the code."""
    consent_page(response)
    return code_of(rp.consent(response))


def code_of(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return query_of(location)["code"]


def released(rp: RelyingParty, code: str) -> tuple[dict, dict, dict]:
    """The ID token's claims, the userinfo response and the access token's claims."""
    body = rp.exchange_code(code)
    id_token = rp.validate_id_token(body["id_token"], nonce=NONCE)
    info = rp.userinfo(body["access_token"]).get_json()
    return id_token, info, rp.access_token_claims(body["access_token"])


def test_claims_beyond_the_registered_scope_are_neither_shown_nor_released(app, browser):
    """The reported attack: scope openid only, every personal claim asked for."""
    make_client(app, "narrow", scope="openid", first_party=False, client_name="Ứng dụng hẹp")
    narrow = RelyingParty(browser.http, "narrow")
    asked = narrow.authorize(scope="openid", nonce=NONCE, claims=EVERYTHING)
    page = consent_page(asked)
    assert "Biết bạn là ai" in page
    for shown in ("thư điện tử", "chức danh", "họ và tên", "đơn vị", "số điện thoại"):
        assert shown not in page.lower()
    id_token, info, access = released(narrow, allow(narrow, asked))
    for name in PERSONAL:
        assert name not in id_token, name
        assert name not in info, name
    assert set(info) == {"sub"}
    assert "userinfo_claims" not in access
    # Consent to "who you are" is remembered, and a later code still releases nothing more.
    again = narrow.authorize(scope="openid", nonce=NONCE, claims=EVERYTHING)
    id_token, info, _access = released(narrow, code_of(again))
    assert set(info) == {"sub"} and "email" not in id_token


def test_a_first_party_client_gets_no_claim_its_scopes_do_not_cover(app, browser):
    """First-party clients skip consent, never the limit of their registered scopes."""
    make_client(app, "mail-only", scope="openid email")
    rp = RelyingParty(browser.http, "mail-only")
    code = code_of(rp.authorize(scope="openid", nonce=NONCE, claims=EVERYTHING))
    id_token, info, access = released(rp, code)
    assert id_token["email"] == info["email"] == "nguyen.van.an@haugiang.gov.vn"
    for name in ("name", "title", "roles", "unit_code", "unit_path", "phone_number"):
        assert name not in id_token and name not in info, name
    assert access["userinfo_claims"] == ["email", "email_verified"]


def test_the_consent_page_lists_individually_requested_claims(app, browser):
    make_client(
        app, "portal", scope="openid profile email org", first_party=False, client_name="Cổng"
    )
    portal = RelyingParty(browser.http, "portal")
    claims = json.dumps({"userinfo": {"email": None, "title": None}, "id_token": {"roles": None}})
    asked = portal.authorize(scope="openid", nonce=NONCE, claims=claims)
    page = consent_page(asked)
    assert "Biết bạn là ai" in page
    assert "địa chỉ thư điện tử công vụ" in page and "chức danh" in page and "vai trò" in page
    assert "họ và tên" not in page and "đơn vị công tác" not in page
    english = consent_page(
        portal.authorize(scope="openid", nonce=NONCE, claims=claims, ui_locales="en")
    )
    assert "official e-mail address" in english and "job title" in english
    id_token, info, _access = released(portal, allow(portal, asked))
    assert info["email"] == "nguyen.van.an@haugiang.gov.vn" and info["title"] == "Chuyên viên"
    assert "name" not in info and "roles" not in info
    assert id_token["roles"] == ["document_signer"] and "email" not in id_token


def test_remembered_consent_covers_exactly_the_claims_consented(app, browser):
    make_client(
        app, "portal", scope="openid profile email org", first_party=False, client_name="Cổng"
    )
    portal = RelyingParty(browser.http, "portal")
    email_only = json.dumps({"userinfo": {"email": None}})
    allow(portal, portal.authorize(claims=email_only))
    # The same again: remembered.
    assert "code" in query_of(portal.authorize(claims=email_only).headers["Location"])
    # One claim more: asked again, and prompt=none cannot pass.
    more = json.dumps({"userinfo": {"email": None, "name": None}})
    page = consent_page(portal.authorize(claims=more))
    assert "họ và tên" in page
    values = query_of(portal.authorize(claims=more, prompt="none").headers["Location"])
    assert values["error"] == "consent_required"
    # The email scope releases email_verified too, which was not consented.
    consent_page(portal.authorize(scope="openid email"))


def test_claims_end_when_the_client_loses_the_scope(app, browser):
    """Refreshing after the administrators narrowed the client's scopes releases less."""
    from idp.clients.models import Client
    from idp.extensions import db

    make_client(app, "mail", scope="openid email offline_access")
    rp = RelyingParty(browser.http, "mail")
    claims = json.dumps({"id_token": {"email": None}, "userinfo": {"email": None}})
    code = code_of(rp.authorize(scope="openid offline_access", nonce=NONCE, claims=claims))
    body = rp.exchange_code(code)
    assert rp.validate_id_token(body["id_token"], nonce=NONCE)["email"]
    with app.app_context():
        client = db.session.execute(sa.select(Client).filter_by(client_id="mail")).scalar_one()
        client.client_metadata = {**client.client_metadata, "scope": "openid offline_access"}
        db.session.commit()
    refreshed = rp.refresh(body["refresh_token"]).get_json()
    assert "email" not in rp.validate_id_token(refreshed["id_token"])
    assert "email" not in rp.userinfo(refreshed["access_token"]).get_json()
