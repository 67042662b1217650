"""The sample relying party (clients/demo-rp) against the provider on 127.0.0.1.

What the demo shows must be right: the person's claims on its home page, and the checks
Back-Channel Logout 1.0 section 2.6 asks of a relying party. Logout tokens are minted
here with the provider's own signing key (and with a key it never published) to show
that each rule is enforced: a bad token is answered 400 with a JSON error and ends no
session; a good one ends exactly the sessions it names, once.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
from helpers.live import (
    EMAIL,
    NAME,
    PASSWORD,
    Browser,
    LiveIdp,
    NodeRP,
    form_fields,
    free_port,
    node_client_metadata,
)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
UNITS = (("UBND", "Ủy ban nhân dân tỉnh Hậu Giang"), ("STC", "Sở Tài chính"))


@pytest.fixture(scope="module")
def site(demo_rp_ready, sqlite_template, tmp_path_factory) -> Iterator[tuple[LiveIdp, NodeRP]]:
    """One provider and one Node relying party for the module (each test signs in anew)."""
    path = tmp_path_factory.mktemp("demo-rp") / "idp.sqlite3"
    shutil.copy(sqlite_template, path)
    idp = LiveIdp(f"sqlite:///{path}")
    node = None
    try:
        idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa", units=UNITS)
        port = free_port()
        secret = secrets.token_urlsafe(32)
        metadata = node_client_metadata(f"http://127.0.0.1:{port}", logout="backchannel", name="RP")
        idp.add_client("node-rp", secret, metadata)
        node = NodeRP(
            issuer=idp.issuer, client_id="node-rp", secret=secret, port=port, title="Ứng dụng mẫu"
        )
        yield idp, node
    finally:
        if node is not None:
            node.stop()
        idp.stop()


@pytest.fixture
def signed_in(site) -> Iterator[Callable[[], Browser]]:
    """Factory: a new browser signed in at the Node relying party."""
    idp, node = site
    browsers: list[Browser] = []

    def make() -> Browser:
        browser = Browser()
        browsers.append(browser)
        page = browser.sign_in(browser.get(node.base + "/login"), EMAIL, PASSWORD)
        assert page.url == node.base + "/", node.log()
        return browser

    yield make
    for browser in browsers:
        browser.close()


def logout_claims(idp: LiveIdp, session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": idp.issuer,
        "aud": "node-rp",
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_EVENT: {}},
        "sid": session["sid"],
        "sub": session["sub"],
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def post_logout_token(node: NodeRP, token: str | None, **kwargs: Any):
    import requests

    data = {"state": "x"} if token is None else {"logout_token": token}
    return requests.post(node.backchannel_logout_uri, data=data, timeout=10, **kwargs)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def foreign_key_token(claims: dict[str, Any]) -> str:
    """Signed with a key the provider never published in its JWKS."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "not-in-the-jwks"})
    return jwt.encode({"alg": "RS256", "typ": "logout+jwt", "kid": "not-in-the-jwks"}, claims, key)


def unsigned_token(claims: dict[str, Any]) -> str:
    return f"{b64({'alg': 'none', 'typ': 'logout+jwt'})}.{b64(claims)}."


# Each case: how the token is made, and what the refusal names.
BAD_TOKENS: dict[str, Callable[[LiveIdp, dict[str, Any]], str | None]] = {
    "missing": lambda idp, s: None,
    "not a JWT": lambda idp, s: "not-a-jwt",
    "unsigned (alg none)": lambda idp, s: unsigned_token(logout_claims(idp, s)),
    "key not in the JWKS": lambda idp, s: foreign_key_token(logout_claims(idp, s)),
    "typ JWT (an ID token's)": lambda idp, s: idp.sign(logout_claims(idp, s), typ="JWT"),
    "another audience": lambda idp, s: idp.sign(logout_claims(idp, s, aud="someone-else")),
    "another issuer": lambda idp, s: idp.sign(logout_claims(idp, s, iss="http://127.0.0.1:9")),
    "no iat": lambda idp, s: idp.sign(logout_claims(idp, s, iat=None)),
    "iat an hour ago": lambda idp, s: idp.sign(logout_claims(idp, s, iat=int(time.time()) - 3600)),
    "iat in the future": lambda idp, s: idp.sign(
        logout_claims(idp, s, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    ),
    "expired": lambda idp, s: idp.sign(
        logout_claims(idp, s, iat=int(time.time()) - 240, exp=int(time.time()) - 120)
    ),
    "no jti": lambda idp, s: idp.sign(logout_claims(idp, s, jti=None)),
    "no events": lambda idp, s: idp.sign(logout_claims(idp, s, events=None)),
    "another event": lambda idp, s: idp.sign(
        logout_claims(idp, s, events={"http://schemas.openid.net/event/other": {}})
    ),
    "event not an object": lambda idp, s: idp.sign(
        logout_claims(idp, s, events={BACKCHANNEL_EVENT: "yes"})
    ),
    "a nonce": lambda idp, s: idp.sign(logout_claims(idp, s, nonce="n-0S6_WzA2Mj")),
    "neither sid nor sub": lambda idp, s: idp.sign(logout_claims(idp, s, sid=None, sub=None)),
    "sid not a string": lambda idp, s: idp.sign(logout_claims(idp, s, sid=42)),
}


def test_home_page_shows_the_person_from_id_token_and_userinfo(site, signed_in):
    idp, node = site
    browser = signed_in()
    page = browser.get(node.base + "/")
    assert 'lang="vi"' in page.text
    assert f'id="name">{NAME}<' in page.text
    assert f'id="email">{EMAIL}<' in page.text
    assert 'id="unit">Ủy ban nhân dân tỉnh Hậu Giang › Sở Tài chính<' in page.text
    assert "Đăng xuất" in page.text
    session = browser.node_session(node)
    assert session["signed_in"] and session["name"] == NAME and session["email"] == EMAIL
    # Signed out, the same page offers to sign in.
    anonymous = Browser()
    try:
        page = anonymous.get(node.base + "/")
        assert 'id="login" href="/login">Đăng nhập<' in page.text
        assert anonymous.node_session(node)["signed_in"] is False
    finally:
        anonymous.close()


REASONS = {
    "missing": "logout_token is missing",
    "not a JWT": "Invalid Compact JWS",
    "unsigned (alg none)": '"alg"',
    "key not in the JWKS": "no applicable key",
    "typ JWT (an ID token's)": '"typ"',
    "another audience": '"aud"',
    "another issuer": '"iss"',
    "no iat": '"iat"',
    "iat an hour ago": '"iat"',
    "iat in the future": '"iat"',
    "expired": '"exp"',
    "no jti": '"jti"',
    "no events": '"events"',
    "another event": '"events"',
    "event not an object": '"events"',
    "a nonce": '"nonce"',
    "neither sid nor sub": '"sid", "sub"',
    "sid not a string": '"sid"',
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_logout_token_is_refused_and_ends_nothing(site, signed_in, case):
    idp, node = site
    browser = signed_in()
    session = browser.node_session(node)
    response = post_logout_token(node, BAD_TOKENS[case](idp, session))
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "invalid_request"
    assert REASONS[case] in body["error_description"]
    assert browser.node_session(node)["signed_in"] is True


def test_logout_token_must_be_a_form_post(site, signed_in):
    idp, node = site
    browser = signed_in()
    token = idp.sign(logout_claims(idp, browser.node_session(node)))
    response = post_logout_token(node, None, json={"logout_token": token})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    import requests

    response = requests.get(node.backchannel_logout_uri, timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert browser.node_session(node)["signed_in"] is True


def test_good_logout_token_ends_its_session_once(site, signed_in):
    idp, node = site
    browser, other = signed_in(), signed_in()
    session = browser.node_session(node)
    assert other.node_session(node)["sid"] != session["sid"]
    token = idp.sign(logout_claims(idp, session))
    response = post_logout_token(node, token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert browser.node_session(node)["signed_in"] is False
    # Another SSO session of the same person is not this token's business.
    assert other.node_session(node)["signed_in"] is True
    # Section 2.6 step 7: the same jti again is a replay.
    replay = post_logout_token(node, token)
    assert replay.status_code == 400 and "replay" in replay.json()["error_description"]


def test_logout_token_with_only_sub_ends_every_session_of_that_person(site, signed_in):
    idp, node = site
    first, second = signed_in(), signed_in()
    session = first.node_session(node)
    response = post_logout_token(node, idp.sign(logout_claims(idp, session, sid=None)))
    assert response.status_code == 200
    assert first.node_session(node)["signed_in"] is False
    assert second.node_session(node)["signed_in"] is False


def test_logout_token_for_an_unknown_session_is_accepted_and_ends_nothing(site, signed_in):
    idp, node = site
    browser = signed_in()
    session = browser.node_session(node)
    token = idp.sign(logout_claims(idp, session, sid="another-session"))
    assert post_logout_token(node, token).status_code == 200
    assert browser.node_session(node)["signed_in"] is True


def test_frontchannel_logout_checks_iss_and_sid_and_may_be_framed_by_the_provider(site, signed_in):
    idp, node = site
    browser = signed_in()
    sid = browser.node_session(node)["sid"]
    # The home page may not be framed by anyone.
    assert (
        "frame-ancestors 'none'" in browser.get(node.base + "/").headers["Content-Security-Policy"]
    )
    for query in (
        {"iss": "http://127.0.0.1:9", "sid": sid},  # another issuer
        {"sid": sid},  # sid without iss
        {"iss": idp.issuer},  # iss without sid
    ):
        response = browser.get(node.frontchannel_logout_uri, params=query)
        assert response.status_code == 400, query
        assert browser.node_session(node)["signed_in"] is True
    response = browser.get(node.frontchannel_logout_uri, params={"iss": idp.issuer, "sid": sid})
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert f"frame-ancestors {idp.issuer}" in response.headers["Content-Security-Policy"]
    assert "no-store" in response.headers["Cache-Control"]
    assert "Đã đăng xuất" in response.text
    assert browser.node_session(node)["signed_in"] is False


def test_bad_requests_get_a_readable_page(site, signed_in):
    idp, node = site
    browser = signed_in()
    page = browser.get(node.base + "/login?prompt=consent")
    assert page.status_code == 400 and "Tham số prompt không hợp lệ" in page.text
    page = browser.get(node.redirect_uri + "?code=abc&state=made-up")
    assert page.status_code == 400 and 'id="error">invalid_state<' in page.text
    page = browser.get(node.base + "/nowhere")
    assert page.status_code == 404 and "Không tìm thấy trang" in page.text
    response = browser.http.delete(node.base + "/api/session", timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"
    # Sign-out needs the form's token: a cross-site POST signs nobody out.
    page = browser.post(node.base + "/logout", data={"csrf_token": "forged"})
    assert page.status_code == 403
    assert browser.node_session(node)["signed_in"] is True
    assert "Traceback" not in page.text


def test_a_callback_is_used_once(site):
    idp, node = site
    browser = Browser()
    try:
        page = browser.get(node.base + "/login")
        fields = form_fields(page.text, "/login")
        fields.update(email=EMAIL, password=PASSWORD)
        answer = browser.post(idp.issuer + "/login", data=fields, allow_redirects=False)
        authorize = browser.get(
            urljoin(idp.issuer, answer.headers["Location"]), allow_redirects=False
        )
        callback = authorize.headers["Location"]
        assert callback.startswith(node.redirect_uri + "?code=")
        assert browser.get(callback).url == node.base + "/"
        # The same authorization response again (a replay from history or a log).
        again = browser.get(callback)
        assert again.status_code == 400 and 'id="error">invalid_state<' in again.text
    finally:
        browser.close()


def test_provider_unreachable_is_a_readable_page(demo_rp_ready):
    node = NodeRP(
        issuer=f"http://127.0.0.1:{free_port()}",
        client_id="node-rp",
        secret="x" * 43,
        port=free_port(),
        title="Ứng dụng mẫu",
    )
    try:
        browser = Browser()
        page = browser.get(node.base + "/login")
        assert page.status_code == 502
        assert "Không kết nối được với hệ thống đăng nhập" in page.text
        assert "ECONNREFUSED" not in page.text and "Error:" not in page.text
        browser.close()
    finally:
        node.stop()
