"""The whole journey in headless Chromium (Debian's, Playwright): a relying party (the
Node sample, clients/demo-rp) -> our sign-in page -> "Đăng nhập bằng tài khoản Cổng Dịch
vụ công quốc gia" -> the national portal stand-in (oidc-provider) -> back to us, where
the identity is linked by proving the local account once (password) and confirming ->
signed in at the relying party. Then single sign-out from the relying party: its session
ends, ours ends, and the portal's ends too (its logout page submits itself and returns
through us to the relying party).

A second journey: the link made, the next sign-in through the portal goes straight
through. Without chromium, node or npm the test is skipped, except with CI=true.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from helpers.ci import unavailable
from helpers.live import (
    EMAIL,
    NAME,
    PASSWORD,
    NodeRP,
    free_port,
    install_demo_rp,
    node_available,
    node_client_metadata,
    wait_until,
)
from helpers.national_portal import (
    CITIZEN_USERNAME,
    NATIONAL_PORTAL_BUTTON,
    national_portal_ready,
    start_brokered,
)

from idp.extensions import db
from idp.sessions.models import SsoSession
from idp.upstreams.models import UpstreamLink

pytestmark = pytest.mark.browser


@pytest.fixture
def started() -> Iterator[Callable[[Any], Any]]:
    things: list[Any] = []
    yield things.append
    for thing in reversed(things):
        thing.stop()


@pytest.fixture
def journey(sqlite_url, started):
    """Our provider brokering the stand-in, one person, the Node relying party."""
    national_portal_ready()
    reason = node_available() or install_demo_rp()
    if reason:
        unavailable(reason)
    idp, portal = start_brokered(sqlite_url)
    started(idp)
    started(portal)
    idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    port = free_port()
    secret = secrets.token_urlsafe(32)
    base = f"http://127.0.0.1:{port}"
    idp.add_client(
        "node-rp",
        secret,
        node_client_metadata(base, logout="backchannel", name="Ứng dụng mẫu Node.js"),
    )
    node = NodeRP(
        issuer=idp.issuer, client_id="node-rp", secret=secret, port=port, title="Ứng dụng mẫu"
    )
    started(node)
    return idp, portal, node


@pytest.fixture
def context(chromium) -> Iterator:
    context = chromium.new_context(locale="vi-VN")
    context.set_default_timeout(20000)
    try:
        yield context
    finally:
        context.close()


def open_sessions(idp) -> int:
    with idp.app.app_context():
        return len(
            db.session.execute(sa.select(SsoSession).where(SsoSession.ended_at.is_(None)))
            .scalars()
            .all()
        )


def at_the_portal(page, portal) -> None:
    page.wait_for_url(re.compile(re.escape(portal.issuer) + r"/interaction/"))
    page.get_by_label("Tên đăng nhập").fill(CITIZEN_USERNAME)
    page.get_by_role("button", name="Đăng nhập").click()


def test_relying_party_to_the_portal_and_back_linked_then_single_sign_out(journey, context):
    idp, portal, node = journey
    page = context.new_page()

    # The relying party sends the person to our sign-in page; they choose the portal.
    page.goto(node.base + "/login")
    page.wait_for_url(re.compile(re.escape(idp.issuer) + r"/login\?"))
    page.get_by_role("link", name=NATIONAL_PORTAL_BUTTON).click()
    at_the_portal(page, portal)

    # Back here: not linked yet. Prove the local account once, then confirm.
    page.wait_for_url(re.compile(re.escape(idp.issuer) + r"/login/upstream/national/link"))
    page.get_by_role("link", name="Đăng nhập tài khoản của tôi để liên kết").click()
    page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url(re.compile(r"/link/confirm"))
    assert page.locator("#link-identity").inner_text() == "Nguyễn Văn An"
    page.get_by_role("button", name="Liên kết tài khoản").click()

    # Signed in at the relying party, as our person.
    page.wait_for_url(node.base + "/")
    assert page.locator("#name").inner_text() == NAME
    with idp.app.app_context():
        assert [
            link.linked_by for link in db.session.execute(sa.select(UpstreamLink)).scalars()
        ] == ["proof"]
    assert len(portal.sessions()) == 1
    assert open_sessions(idp) == 1

    # Single sign-out from the relying party: through us and the portal, back to it.
    page.get_by_role("button", name=re.compile("Đăng xuất")).click()
    page.wait_for_url(re.compile(re.escape(node.base) + r"/\?state="))
    assert page.locator("#signed-out").is_visible()
    assert context.request.get(node.base + "/api/session").json()["signed_in"] is False
    assert open_sessions(idp) == 0
    assert wait_until(lambda: portal.sessions() == [], seconds=5), portal.sessions()

    # The link stays: the next sign-in through the portal goes straight through.
    page.goto(node.base + "/login")
    page.get_by_role("link", name=NATIONAL_PORTAL_BUTTON).click()
    at_the_portal(page, portal)
    page.wait_for_url(node.base + "/")
    assert page.locator("#name").inner_text() == NAME
    page.close()
