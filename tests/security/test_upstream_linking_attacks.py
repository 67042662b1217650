"""Account takeover through an upstream's link step, against the national portal stand-in
(real HTTP, SQLite and PostgreSQL).

Other identity providers have linked accounts silently by e-mail and been taken over by
whoever could make an upstream say the victim's address. Here:

- an upstream that says an address without `email_verified: true` links nothing by it,
  even when trusted for verified e-mail;
- an upstream not trusted for verified e-mail links nothing by it, verified or not;
- a link key linked to another account is never moved (one identity, one account), and an
  account linked to one identity at an upstream takes no second;
- the confirmation is a form with a CSRF token: a page elsewhere cannot post it;
- a session that was open before the person chose to prove an account proves nothing
  (a shared computer left signed in).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers.live import EMAIL, PASSWORD, Browser, LiveIdp, form_fields
from helpers.national_portal import (
    CITIZEN,
    UPSTREAM,
    NationalPortal,
    national_portal_ready,
    portal_settings,
    post_form,
    pre_link,
    start_brokered,
    through_portal,
)

from idp.extensions import db
from idp.upstreams.models import UpstreamLink

LINK = f"/login/upstream/{UPSTREAM}/link"
CLAIMS = portal_settings("http://x", client_id="x", secret="x")["claims"]
EMAIL_CLAIMS = {**CLAIMS, "email": "email", "email_verified": "email_verified"}
VICTIM = "victim@haugiang.gov.vn"


def says(email: str, verified) -> dict:
    """The stand-in's citizen, with an address and what it says of it."""
    account = {**CITIZEN, "email": email}
    if verified is not None:
        account["email_verified"] = verified
    return {"an": account}


@pytest.fixture
def upstream_settings() -> dict:
    return {}


@pytest.fixture
def portal_accounts() -> dict | None:
    return None


@pytest.fixture
def brokered(
    database_url, upstream_settings, portal_accounts
) -> Iterator[tuple[LiveIdp, NationalPortal]]:
    national_portal_ready()
    idp, portal = start_brokered(database_url, accounts=portal_accounts, **upstream_settings)
    try:
        yield idp, portal
    finally:
        portal.stop()
        idp.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def links(idp: LiveIdp) -> list[tuple[int, str]]:
    with idp.app.app_context():
        return [
            (link.user_id, link.linked_by)
            for link in db.session.execute(sa.select(UpstreamLink)).scalars()
        ]


def user_id(idp: LiveIdp, sub: str) -> int:
    from idp.directory.store import find_user_by_sub

    with idp.app.app_context():
        return find_user_by_sub(sub).id


def csrf(browser: Browser, idp: LiveIdp) -> str:
    return form_fields(browser.get(idp.issuer + "/login").text, "/login")["csrf_token"]


@pytest.mark.parametrize(
    ("upstream_settings", "portal_accounts"),
    [
        # Trusted, but the address is not said to be verified (missing, false, "true").
        ({"trust_verified_email": True, "claims": EMAIL_CLAIMS}, says(VICTIM, None)),
        ({"trust_verified_email": True, "claims": EMAIL_CLAIMS}, says(VICTIM, False)),
        ({"trust_verified_email": True, "claims": EMAIL_CLAIMS}, says(VICTIM, "true")),
        # Verified, but the upstream is not trusted for it.
        ({"claims": EMAIL_CLAIMS}, says(VICTIM, True)),
    ],
    ids=["unverified-missing", "unverified-false", "verified-as-text", "untrusted-upstream"],
)
def test_an_address_the_upstream_may_not_vouch_for_links_nothing(brokered, browser):
    idp, _portal = brokered
    idp.add_user(VICTIM, PASSWORD, family="Phạm", middle="Thị", given="Mai")
    link_page = through_portal(browser, idp)
    assert 'id="link-email"' not in link_page.text
    page = browser.get(idp.issuer + f"{LINK}/email")
    assert page.status_code == 403
    answer = browser.post(idp.issuer + f"{LINK}/email", data={"csrf_token": csrf(browser, idp)})
    assert answer.status_code == 403
    assert links(idp) == []
    # And no session: the account page asks to sign in.
    assert "/login" in browser.get(idp.issuer + "/account/").url


@pytest.mark.parametrize(
    ("upstream_settings", "portal_accounts"),
    [({"trust_verified_email": True, "claims": EMAIL_CLAIMS}, says(VICTIM, True))],
)
def test_even_a_trusted_verified_address_needs_the_person_to_confirm(brokered, browser):
    idp, _portal = brokered
    idp.add_user(VICTIM, PASSWORD, family="Phạm", middle="Thị", given="Mai")
    page = through_portal(browser, idp)
    assert LINK in page.url
    assert links(idp) == []
    assert "/login" in browser.get(idp.issuer + "/account/").url


def test_a_link_key_linked_to_another_account_is_never_moved(brokered, browser):
    idp, _portal = brokered
    owner = idp.add_user(VICTIM, PASSWORD, family="Phạm", middle="Thị", given="Mai")
    idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    # The identity's link key is the owner's; its pending link was made before that (a
    # race with an administrator), and another person proves their own account.
    page = through_portal(browser, idp)
    pre_link(idp, owner)
    prove = browser.get(idp.issuer + f"{LINK}/prove?next=/account/")
    confirm = browser.sign_in(prove, EMAIL, PASSWORD)
    answer = post_form(browser, confirm, confirm.url.split(idp.issuer)[1])
    assert answer.status_code == 409, page.url
    assert "đã được liên kết với một tài khoản khác" in answer.text
    assert links(idp) == [(user_id(idp, owner), "admin")]


def test_an_account_takes_no_second_identity_at_the_same_upstream(brokered, browser):
    idp, _portal = brokered
    sub = idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    pre_link(idp, sub, value="079000000001")  # another identity of the portal
    through_portal(browser, idp)
    prove = browser.get(idp.issuer + f"{LINK}/prove?next=/account/")
    confirm = browser.sign_in(prove, EMAIL, PASSWORD)
    answer = post_form(browser, confirm, confirm.url.split(idp.issuer)[1])
    assert answer.status_code == 409
    assert links(idp) == [(user_id(idp, sub), "admin")]


def test_the_confirmation_needs_its_csrf_token(brokered, browser):
    idp, _portal = brokered
    idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    through_portal(browser, idp)
    prove = browser.get(idp.issuer + f"{LINK}/prove?next=/account/")
    confirm = browser.sign_in(prove, EMAIL, PASSWORD)
    assert f"{LINK}/confirm" in confirm.url
    action = confirm.url.split(idp.issuer)[1]
    for forged in ({}, {"csrf_token": "forged"}):
        answer = browser.post(idp.issuer + action, data=forged)
        assert answer.status_code == 400
    assert links(idp) == []
    # The real form still works.
    assert post_form(browser, confirm, action).status_code == 200
    assert len(links(idp)) == 1


def test_a_session_open_before_the_link_step_proves_nothing(brokered, browser):
    idp, _portal = brokered
    idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    # Someone left signed in on a shared computer...
    browser.sign_in(browser.get(idp.issuer + "/login"), EMAIL, PASSWORD)
    # ...and another person signs in at the portal there and goes straight to confirm.
    through_portal(browser, idp)
    answer = browser.get(idp.issuer + f"{LINK}/confirm?next=/account/")
    # Sent to prove the account on the sign-in page, not to the confirmation.
    assert answer.url.startswith(idp.issuer + "/login?next=")
    assert 'name="password"' in answer.text
    assert "Xác nhận liên kết tài khoản" not in answer.text
    token = csrf(browser, idp)
    browser.post(idp.issuer + f"{LINK}/confirm", data={"csrf_token": token})
    assert links(idp) == []


def test_guessing_the_password_through_the_link_step_is_throttled(brokered, browser):
    """Proving an account is our own sign-in page: the same counters, the same delays."""
    idp, _portal = brokered
    idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    through_portal(browser, idp)
    prove = browser.get(idp.issuer + f"{LINK}/prove?next=/account/")
    statuses = []
    for attempt in range(7):
        answer = browser.sign_in(prove, EMAIL, f"sai-{attempt}")
        statuses.append(answer.status_code)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    # Held back: even the right password is refused now, and nothing is linked.
    assert browser.sign_in(prove, EMAIL, PASSWORD).status_code == 429
    assert browser.get(idp.issuer + f"{LINK}/confirm").url.startswith(idp.issuer + "/login?")
    assert links(idp) == []
