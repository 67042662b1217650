"""Single sign-on and single sign-out with relying-party software nobody here wrote.

Apache httpd with mod_auth_openidc (Debian's packages) and clients/demo-rp (Node.js with
openid-client from npm) sign in through the provider on 127.0.0.1. A requests session is
the person's browser (its cookie jar holds every site's cookies); the provider's sign-in
form is filled in like a person would. The scenario of issue 4: sign in at the first ->
the second signs in without a password -> sign out at the first -> the second's session
is gone (Back-Channel Logout 1.0) -> prompt=none at either answers login_required.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from helpers.live import EMAIL, NAME, PASSWORD, wait_until


def went_through_sign_in_page(response, issuer: str) -> bool:
    return any(r.url.startswith(issuer + "/login") for r in [*response.history, response])


def apache_signed_in(browser, httpd) -> bool:
    """A request to the protected page answers it (a session) or redirects (none)."""
    response = browser.get(httpd.base + "/protected/", allow_redirects=False)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def deliveries(idp) -> list[dict]:
    result = idp.app.test_cli_runner().invoke(args=["logout-deliveries", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["deliveries"]


def check_prompt_none_answers_login_required(browser, deployment) -> None:
    idp, httpd, node = deployment.idp, deployment.apache, deployment.node
    # The Node relying party asks with prompt=none and reports what the provider said.
    page = browser.get(node.base + "/login?prompt=none")
    assert page.status_code == 400
    assert page.url.startswith(node.redirect_uri + "?error=login_required")
    assert re.search(r'id="error">login_required<', page.text)
    assert browser.node_session(node)["last_error"] == "login_required"
    assert not went_through_sign_in_page(page, idp.issuer)
    # mod_auth_openidc's /silent/ sends prompt=none (OIDCPathAuthRequestParams); the
    # provider answers its redirect URI with login_required and RFC 9207's `iss`.
    # mod_auth_openidc 2.4.12 takes an error response carrying `iss` for a third-party
    # login (its discovery handler) and shows its own "invalid request" page, so what is
    # checked is the provider's answer and that no session came of it.
    page = browser.get(httpd.base + "/silent/")
    assert page.url.startswith(httpd.redirect_uri + "?error=login_required&")
    assert f"iss={quote(idp.issuer, safe='')}" in page.url
    assert not went_through_sign_in_page(page, idp.issuer)
    assert "signed in:" not in page.text
    assert not apache_signed_in(browser, httpd)
    # Without prompt=none, a protected page sends the person to the sign-in page.
    page = browser.get(httpd.base + "/protected/")
    assert page.url.startswith(idp.issuer + "/login")


def test_sign_in_at_apache_sso_at_node_sign_out_at_apache_ends_node_session(
    deploy, database_url, browser
):
    # Only `idp worker` delivers logout tokens here: the durable outbox path.
    deployment = deploy(database_url, logout="backchannel", deliver_immediately=False)
    idp, httpd, node = deployment.idp, deployment.apache, deployment.node

    # 1. The first relying party (Apache) sends the person to the sign-in page.
    page = browser.get(httpd.base + "/protected/")
    assert page.url.startswith(idp.issuer + "/login")
    page = browser.sign_in(page, EMAIL, PASSWORD)
    assert page.status_code == 200 and page.url == httpd.base + "/protected/", httpd.log()
    assert f"signed in: {deployment.sub}" in page.text
    assert EMAIL in page.text

    # 2. The second (Node) signs in without a password: single sign-on.
    page = browser.get(node.base + "/login")
    assert page.status_code == 200 and page.url == node.base + "/"
    assert not went_through_sign_in_page(page, idp.issuer)
    assert NAME in page.text and EMAIL in page.text
    session = browser.node_session(node)
    assert session["signed_in"] is True and session["sub"] == deployment.sub
    assert session["sid"]

    # 3. Sign out at Apache: its logout URL goes through our end_session endpoint.
    page = browser.get(httpd.logout_url())
    assert any(r.url.startswith(idp.issuer + "/oauth2/logout?") for r in page.history)
    assert page.url == httpd.logged_out_url and page.status_code == 200

    # 4. The Node relying party's session is gone: a logout token reached it.
    assert wait_until(lambda: not browser.node_session(node)["signed_in"]), node.log()
    assert re.search(rf"back-channel logout sid={session['sid']} .*: 1 ended", node.log())
    # The outbox shows both notices delivered (by the worker: deliver_immediately=False).
    assert wait_until(lambda: all(r["status"] == "delivered" for r in deliveries(idp)))
    assert {r["client_id"] for r in deliveries(idp)} == {"node-rp", "apache-rp"}

    # 5. prompt=none at either answers login_required: the SSO session is over.
    check_prompt_none_answers_login_required(browser, deployment)


def test_sign_in_at_node_sso_at_apache_sign_out_at_node_ends_apache_session(
    deploy, sqlite_url, browser
):
    deployment = deploy(sqlite_url, logout="backchannel")
    idp, httpd, node = deployment.idp, deployment.apache, deployment.node

    page = browser.get(node.base + "/login")
    page = browser.sign_in(page, EMAIL, PASSWORD)
    assert page.url == node.base + "/" and NAME in page.text, node.log()

    page = browser.get(httpd.base + "/protected/")
    assert page.url == httpd.base + "/protected/", httpd.log()
    assert not went_through_sign_in_page(page, idp.issuer)
    assert f"signed in: {deployment.sub}" in page.text

    # Sign out at Node: RP-Initiated Logout with id_token_hint, post_logout_redirect_uri
    # and state; back at the relying party with the same state.
    page = browser.sign_out_at_node(node)
    assert any(r.url.startswith(idp.issuer + "/oauth2/logout?") for r in page.history)
    assert page.url.startswith(node.base + "/?state=")
    assert 'id="signed-out"' in page.text

    # mod_auth_openidc got the logout token at ?logout=backchannel and dropped its session.
    assert wait_until(lambda: not apache_signed_in(browser, httpd)), httpd.log()
    location = browser.get(httpd.base + "/protected/", allow_redirects=False).headers["Location"]
    assert location.startswith(idp.issuer + "/oauth2/authorize?")

    check_prompt_none_answers_login_required(browser, deployment)
