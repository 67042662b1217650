"""An upstream trusted for verified e-mail cannot link itself to a privileged account
(real HTTP against the national portal stand-in, SQLite and PostgreSQL).

Whoever controls an upstream account that says `admin@...` is verified (a careless
upstream, a recycled address) would otherwise become the super-administrator after one
confirmation click. Accounts with a role or administering a unit
(idp.directory.guards.privileged) are never offered the e-mail link, and the e-mail link
step refuses them even when posted straight; their holders link by proving the account.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers.live import PASSWORD, Browser, LiveIdp, form_fields
from helpers.national_portal import (
    CITIZEN,
    UPSTREAM,
    NationalPortal,
    national_portal_ready,
    portal_settings,
    start_brokered,
    through_portal,
)

from idp.admin.models import UnitAdmin
from idp.directory.models import User
from idp.directory.store import find_user_by_sub
from idp.extensions import db
from idp.upstreams.models import UpstreamLink

LINK = f"/login/upstream/{UPSTREAM}/link"
CLAIMS = portal_settings("http://x", client_id="x", secret="x")["claims"]
EMAIL_CLAIMS = {**CLAIMS, "email": "email", "email_verified": "email_verified"}
ADMIN = "admin@haugiang.gov.vn"
TRUSTING = {"trust_verified_email": True, "claims": EMAIL_CLAIMS}


@pytest.fixture
def brokered(database_url) -> Iterator[tuple[LiveIdp, NationalPortal]]:
    national_portal_ready()
    accounts = {"an": {**CITIZEN, "email": ADMIN, "email_verified": True}}
    idp, portal = start_brokered(database_url, accounts=accounts, **TRUSTING)
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


def _make(idp: LiveIdp, sub: str, privilege: str) -> None:
    with idp.app.app_context():
        user = find_user_by_sub(sub)
        if privilege == "role":
            user.roles = ["admin"]
        elif privilege == "unit_admin":
            db.session.add(UnitAdmin(user_id=user.id, unit_id=user.unit_id, granted_by="cli:t"))
        db.session.commit()


def _links(idp: LiveIdp) -> list[int]:
    with idp.app.app_context():
        return list(db.session.scalars(sa.select(UpstreamLink.user_id)))


@pytest.mark.parametrize("privilege", ["role", "unit_admin", "none"])
def test_a_verified_address_never_links_a_privileged_account(brokered, browser, privilege):
    idp, _portal = brokered
    sub = idp.add_user(
        ADMIN, PASSWORD, family="Trần", middle="Văn", given="Quản",
        units=(("HG", "Hậu Giang"),),
    )  # fmt: skip
    _make(idp, sub, privilege)
    link_page = through_portal(browser, idp)
    offered = 'id="link-email"' in link_page.text
    page = browser.get(idp.issuer + f"{LINK}/email")
    csrf = form_fields(browser.get(idp.issuer + "/login").text, "/login")["csrf_token"]
    answer = browser.post(idp.issuer + f"{LINK}/email", data={"csrf_token": csrf})
    if privilege == "none":
        # The control: a plain account is still offered the e-mail link and gets it.
        assert offered and page.status_code == 200 and answer.status_code == 200
        assert len(_links(idp)) == 1
        return
    assert not offered
    assert page.status_code == 403
    assert answer.status_code == 403
    assert _links(idp) == []
    with idp.app.app_context():
        assert db.session.scalar(sa.select(User.roles).where(User.sub == sub)) == (
            ["admin"] if privilege == "role" else []
        )
