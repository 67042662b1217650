"""Linking an identity of the national portal stand-in to a person of ours, over real HTTP
(our provider on a werkzeug server, the stand-in in Node.js), on SQLite and PostgreSQL.

- by proving the local account once on our own sign-in page (password, and the second
  factor of an account that has one), then confirming: the link is made and the next
  sign-in through the portal needs nothing more;
- by a verified address of an upstream trusted for it, confirmed on a page;
- by creating an account where the upstream allows it (off by default);
- links listed on the account page and removed there, after a fresh proof.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers.factors import code_for, enrol
from helpers.live import EMAIL, PASSWORD, Browser, LiveIdp, form_fields
from helpers.national_portal import (
    CITIZEN,
    UPSTREAM,
    NationalPortal,
    national_portal_ready,
    portal_settings,
    post_form,
    start_brokered,
    through_portal,
)

from idp.audit import AuditEvent
from idp.directory.models import User
from idp.extensions import db
from idp.upstreams.models import UpstreamLink
from idp.upstreams.origin_models import UpstreamAccountOrigin

LINK = f"/login/upstream/{UPSTREAM}/link"
CLAIMS = portal_settings("http://x", client_id="x", secret="x")["claims"]


@pytest.fixture
def upstream_settings() -> dict:
    """Override with pytest.mark.parametrize(indirect) or in a test: the stand-in's settings."""
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


@pytest.fixture
def other_browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def add_person(idp: LiveIdp, units: tuple[tuple[str, str], ...] = ()) -> str:
    return idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa", units=units)


def links(idp: LiveIdp) -> list[UpstreamLink]:
    with idp.app.app_context():
        rows = db.session.execute(sa.select(UpstreamLink)).scalars().all()
        db.session.expunge_all()
        return rows


def audit_actions(idp: LiveIdp, prefix: str = "upstream.") -> list[tuple[str, str, dict]]:
    with idp.app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        ).scalars()
        return [(e.action, e.outcome, e.detail) for e in events]


def prove_and_confirm(browser: Browser, idp: LiveIdp, link_page, *, code: str | None = None):
    """From the link page: prove the account on our sign-in page, then confirm."""
    assert "Đăng nhập tài khoản của tôi để liên kết" in link_page.text
    prove = link_page.text.split('id="link-prove" href="')[1].split('"')[0].replace("&amp;", "&")
    sign_in_page = browser.get(idp.issuer + prove)
    answer = browser.sign_in(sign_in_page, EMAIL, PASSWORD)
    if code is not None:
        assert "/login/factor" in answer.url
        fields = form_fields(answer.text, "/login/factor")
        fields["code"] = code
        answer = browser.post(idp.issuer + "/login/factor", data=fields)
    assert f"{LINK}/confirm" in answer.url, answer.url
    assert "Nguyễn Văn An" in answer.text and EMAIL in answer.text
    return answer


def test_proving_the_account_links_it_and_the_next_sign_in_needs_nothing_more(
    brokered, browser, other_browser
):
    idp, _portal = brokered
    sub = add_person(idp)
    link_page = through_portal(browser, idp)
    assert LINK in link_page.url
    assert links(idp) == []
    confirm = prove_and_confirm(browser, idp, link_page)
    done = post_form(browser, confirm, confirm.url.split(idp.issuer)[1])
    assert done.url == idp.issuer + "/account/", done.url
    [link] = links(idp)
    assert link.linked_by == "proof"
    # Stored as a keyed hash, never the identification number itself.
    assert link.link_key.startswith("h1:") and CITIZEN["SoDinhDanh"] not in link.link_key
    with idp.app.app_context():
        assert db.session.get(User, link.user_id).sub == sub
    assert (
        "upstream.link",
        "success",
        {"upstream": UPSTREAM, "linked_by": "proof", "link_id": link.id},
    ) in audit_actions(idp)
    # The account page lists the link.
    account = browser.get(idp.issuer + "/account/")
    assert "Tài khoản liên kết" in account.text and "Cổng Dịch vụ công quốc gia" in account.text

    # Another browser: straight through the portal, no link step.
    landed = through_portal(other_browser, idp)
    assert landed.url == idp.issuer + "/account/"


def test_an_account_with_a_second_factor_proves_it_too(brokered, browser):
    idp, _portal = brokered
    add_person(idp)
    secret, _codes = enrol(idp.app, EMAIL)
    link_page = through_portal(browser, idp)
    confirm = prove_and_confirm(browser, idp, link_page, code=code_for(secret))
    post_form(browser, confirm, confirm.url.split(idp.issuer)[1])
    assert [link.linked_by for link in links(idp)] == ["proof"]


VOUCHING = {"an": {**CITIZEN, "email": EMAIL, "email_verified": True}}
EMAIL_CLAIMS = {**CLAIMS, "email": "email", "email_verified": "email_verified"}


@pytest.mark.parametrize(
    ("upstream_settings", "portal_accounts"),
    [({"trust_verified_email": True, "claims": EMAIL_CLAIMS}, VOUCHING)],
)
def test_a_trusted_verified_address_is_offered_and_linked_only_once_confirmed(brokered, browser):
    idp, _portal = brokered
    add_person(idp)
    link_page = through_portal(browser, idp)
    assert f"Liên kết với tài khoản {EMAIL}" in link_page.text
    assert links(idp) == []  # never silently
    page = browser.get(idp.issuer + f"{LINK}/email?next=/account/")
    assert "Xác nhận liên kết tài khoản" in page.text
    done = post_form(browser, page, f"{LINK}/email?next=%2Faccount%2F")
    assert done.url == idp.issuer + "/account/"
    assert [link.linked_by for link in links(idp)] == ["email"]


def test_creating_accounts_is_off_by_default(brokered, browser):
    idp, _portal = brokered
    link_page = through_portal(browser, idp)
    assert "Tạo tài khoản mới" not in link_page.text
    # A valid CSRF token of this browser (the sign-in page's), so only the setting refuses.
    token = form_fields(browser.get(idp.issuer + "/login").text, "/login")["csrf_token"]
    answer = browser.post(idp.issuer + f"{LINK}/create", data={"csrf_token": token})
    assert answer.status_code == 403
    assert "Không thể liên kết tài khoản theo cách này." in answer.text
    assert links(idp) == []


@pytest.mark.parametrize(
    "upstream_settings", [{"create_accounts": True, "create_in_unit": "UBND-HG"}]
)
def test_an_account_is_created_in_the_configured_unit_flagged_with_its_upstream(brokered, browser):
    idp, _portal = brokered
    add_person(idp, units=(("UBND-HG", "Ủy ban nhân dân tỉnh Hậu Giang"),))
    link_page = through_portal(browser, idp)
    assert 'id="link-create"' in link_page.text
    page = browser.get(idp.issuer + f"{LINK}/create?next=/account/")
    assert "Tạo tài khoản mới" in page.text
    done = post_form(browser, page, f"{LINK}/create?next=%2Faccount%2F")
    assert done.url == idp.issuer + "/account/"
    [link] = links(idp)
    assert link.linked_by == "created"
    with idp.app.app_context():
        user = db.session.get(User, link.user_id)
        assert (user.family_name, user.middle_name, user.given_name) == ("Nguyễn", "Văn", "An")
        assert user.unit.code == "UBND-HG"
        # The portal's address is not verified by it: not taken.
        assert user.email == ""
        assert db.session.get(UpstreamAccountOrigin, user.id).upstream == UPSTREAM


def test_removing_a_link_needs_a_fresh_password_and_is_audited(brokered, browser, other_browser):
    idp, _portal = brokered
    add_person(idp)
    link_page = through_portal(browser, idp)
    confirm = prove_and_confirm(browser, idp, link_page)
    post_form(browser, confirm, confirm.url.split(idp.issuer)[1])
    [link] = links(idp)
    # A session opened by the portal alone: the password must be typed again.
    other = other_browser
    through_portal(other, idp)
    account = other.get(idp.issuer + "/account/")
    action = f"/account/upstream-links/{link.id}/remove"
    answer = post_form(other, account, action)
    assert "/login" in answer.url
    assert len(links(idp)) == 1
    signed_in = other.sign_in(answer, EMAIL, PASSWORD)
    assert "/account/" in signed_in.url
    account = other.get(idp.issuer + "/account/")
    post_form(other, account, action)
    assert links(idp) == []
    assert any(a == "upstream.unlink" for a, _o, _d in audit_actions(idp))


@pytest.mark.parametrize(
    ("upstream_settings", "portal_accounts"),
    [
        (
            {"create_accounts": True, "create_in_unit": "UBND-HG", "claims": EMAIL_CLAIMS},
            {"an": {**CITIZEN, "email": "moi.tao@example.vn", "email_verified": True}},
        ),
        (
            {"create_accounts": True, "create_in_unit": "UBND-HG", "claims": EMAIL_CLAIMS},
            VOUCHING,
        ),
    ],
    ids=["free-verified-address", "someone-elses-address"],
)
def test_a_created_account_takes_a_verified_address_only_if_nobody_has_it(
    brokered, browser, portal_accounts
):
    idp, _portal = brokered
    owner = add_person(idp, units=(("UBND-HG", "Ủy ban nhân dân tỉnh Hậu Giang"),))
    through_portal(browser, idp)
    page = browser.get(idp.issuer + f"{LINK}/create?next=/account/")
    post_form(browser, page, f"{LINK}/create?next=%2Faccount%2F")
    [link] = links(idp)
    offered = portal_accounts["an"]["email"]
    with idp.app.app_context():
        created = db.session.get(User, link.user_id)
        assert created.sub != owner
        assert created.email == ("" if offered == EMAIL else offered)
        people = db.session.execute(sa.select(User).order_by(User.id)).scalars().all()
        assert people[0].email == EMAIL  # the owner keeps their address
