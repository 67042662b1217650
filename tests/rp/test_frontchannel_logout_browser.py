"""Front-Channel Logout 1.0 in a real browser: headless Chromium (Debian's), Playwright.

Apache with mod_auth_openidc and the Node sample relying party are registered with a
frontchannel_logout_uri and no back-channel logout, and no `idp worker` runs: the only
way the second application can learn of the sign-out is the frame that the provider's
signed-out page loads in the person's browser. Sign in at one (password), open the
other (single sign-on), sign out at one: the signed-out page frames both relying
parties' logout URIs with iss and sid, continues to the post-logout redirect, and the
other application's session is gone.

Without chromium the test is skipped, except with CI=true, where it fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers.live import EMAIL, NAME, PASSWORD

# The same browser and switches as tests/browser/test_login_browser.py.

pytestmark = pytest.mark.browser


@pytest.fixture
def context(chromium) -> Iterator:
    context = chromium.new_context(locale="vi-VN")
    context.set_default_timeout(15000)
    try:
        yield context
    finally:
        context.close()


def frame_requests(context) -> list[tuple[str, str]]:
    """(URL, URL of the page that framed it) of every request made inside a frame."""
    seen: list[tuple[str, str]] = []

    def record(request) -> None:
        parent = request.frame.parent_frame
        if parent is not None:
            seen.append((request.url, parent.url))

    context.on("request", record)
    return seen


@pytest.mark.parametrize("sign_out_at", ["node", "apache"])
def test_signed_out_page_frames_each_relying_party_and_ends_the_other_session(
    deploy, sqlite_url, context, sign_out_at
):
    deployment = deploy(sqlite_url, logout="frontchannel", worker=False)
    idp, httpd, node = deployment.idp, deployment.apache, deployment.node
    framed = frame_requests(context)
    page = context.new_page()

    # Sign in at the Node relying party, on the provider's sign-in page.
    page.goto(node.base + "/login")
    page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(node.base + "/")
    assert page.locator("#name").inner_text() == NAME
    sid = page.locator("#sid").inner_text()

    # Apache: no password, single sign-on.
    page.goto(httpd.base + "/protected/")
    page.wait_for_url(httpd.base + "/protected/")
    assert page.locator("#who").inner_text() == f"signed in: {deployment.sub}"

    if sign_out_at == "node":
        page.goto(node.base + "/")
        page.get_by_role("button", name=re.compile("Đăng xuất")).click()
        # The signed-out page continues once its frames have loaded.
        page.wait_for_url(re.compile(re.escape(node.base) + r"/\?state="))
        assert page.locator("#signed-out").is_visible()
    else:
        page.goto(httpd.logout_url())
        page.wait_for_url(httpd.logged_out_url)

    # The provider's page framed both relying parties' logout URIs, with iss and sid.
    frames = {url.split("?")[0]: (url, parent) for url, parent in framed}
    for uri in (node.frontchannel_logout_uri, httpd.redirect_uri):
        url, parent = frames[uri]
        assert parent.startswith(idp.issuer + "/oauth2/logout?")
        query = parse_qs(urlsplit(url).query)
        assert query["iss"] == [idp.issuer] and query["sid"] == [sid]
    assert parse_qs(urlsplit(frames[httpd.redirect_uri][0]).query)["logout"] == ["get"]

    if sign_out_at == "node":
        # Apache's session is gone: a protected page sends the person to sign in again.
        page.goto(httpd.base + "/protected/")
        page.wait_for_url(re.compile(re.escape(idp.issuer) + r"/login\?"))
        assert page.get_by_role("heading", level=1).inner_text() == "Đăng nhập"
    else:
        session = context.request.get(node.base + "/api/session").json()
        assert session["signed_in"] is False, node.log()
        page.goto(node.base + "/")
        assert page.locator("#login").inner_text() == "Đăng nhập"
    page.close()
