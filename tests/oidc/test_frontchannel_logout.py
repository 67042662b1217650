"""OpenID Connect Front-Channel Logout 1.0: the signed-out page and its frames.

The page loads each relying party's frontchannel_logout_uri of the ended session in a
hidden iframe (with iss and sid when the client requires them), then continues to the
post-logout redirect; its Content-Security-Policy frames exactly those origins. (The
browser side is proven in headless Chromium by the relying-party tests.)
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers.clients import make_client
from helpers.logout_flow import (
    LOGOUT_TEST_CONFIG,
    POST_LOGOUT,
    end_session,
    set_metadata,
    signed_in,
)
from helpers.oidc_flow import ISSUER, RelyingParty
from helpers.pages import csrf_token, sign_out


@pytest.fixture
def app_config():
    return dict(LOGOUT_TEST_CONFIG)


@pytest.fixture
def frontchannel(app, rp):
    set_metadata(
        app,
        "webmail",
        frontchannel_logout_uri="https://rp.example/frontchannel-logout?tenant=a",
        frontchannel_logout_session_required=True,
        post_logout_redirect_uris=[POST_LOGOUT],
    )
    return rp


def csp_of(response) -> dict[str, str]:
    parts = [p.strip() for p in response.headers["Content-Security-Policy"].split(";")]
    return {p.split(" ", 1)[0]: p.split(" ", 1)[1] for p in parts if p}


def frames_of(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [
        unescape(src)
        for src in re.findall(r'<iframe class="frontchannel" hidden src="([^"]+)"', html)
    ]


def test_discovery_advertises_front_channel_logout(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["frontchannel_logout_supported"] is True
    assert metadata["frontchannel_logout_session_supported"] is True


def test_oidcc_frontchannel_rp_initiated_logout(frontchannel):
    rp = frontchannel
    id_token = rp.tokens()["id_token"]
    claims = rp.validate_id_token(id_token, nonce="n-0S6_WzA2Mj")
    response = end_session(
        rp.http, id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT, state="s1"
    )
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "idp_sso=;" in response.headers["Set-Cookie"]
    assert not signed_in(rp.http)
    [frame] = frames_of(response)
    parts = urlsplit(frame)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "rp.example",
        "/frontchannel-logout",
    )
    assert parse_qs(parts.query) == {"tenant": ["a"], "iss": [ISSUER], "sid": [claims["sid"]]}
    html = response.get_data(as_text=True)
    # Without JavaScript: a visible link on; with it, a same-origin script continues.
    assert f'<a class="button" id="continue" href="{POST_LOGOUT}?state=s1"' in html
    assert '<script src="/static/frontchannel-logout.js"></script>' in html
    assert "<script>" not in html
    assert "Ứng dụng webmail" in html
    csp = csp_of(response)
    assert csp["frame-src"] == "https://rp.example"
    assert csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert response.headers["Cache-Control"] == "no-store"


def test_without_session_required_the_uri_is_used_as_registered(app, frontchannel):
    set_metadata(app, "webmail", frontchannel_logout_session_required=False)
    rp = frontchannel
    response = end_session(rp.http, id_token_hint=rp.tokens()["id_token"])
    assert frames_of(response) == ["https://rp.example/frontchannel-logout?tenant=a"]
    assert 'id="continue"' not in response.get_data(as_text=True)


def test_frames_for_every_relying_party_of_the_session_and_no_other(app, frontchannel, make_user):
    rp = frontchannel
    make_client(
        app,
        "portal",
        redirect_uris=["https://portal.example:8443/cb", "https://rp.example/callback"],
        frontchannel_logout_uri="https://portal.example:8443/fc",
    )
    make_client(app, "reports")  # no front-channel URI
    make_client(app, "elsewhere", frontchannel_logout_uri="https://elsewhere.example/fc")
    rp.tokens()
    RelyingParty(rp.http, "portal").tokens()
    RelyingParty(rp.http, "reports").tokens()
    make_user("tran.thi.binh@haugiang.gov.vn", given_name="Bình")
    other = RelyingParty(app.test_client(), "elsewhere")
    other.login("tran.thi.binh@haugiang.gov.vn")
    other.tokens()

    response = sign_out(rp.http)
    assert response.status_code == 200
    frames = frames_of(response)
    assert len(frames) == 2
    assert frames[1] == "https://portal.example:8443/fc"
    assert csp_of(response)["frame-src"] == "https://portal.example:8443 https://rp.example"
    html = response.get_data(as_text=True)
    assert "Đăng nhập lại" in html and 'id="continue"' not in html
    assert "frontchannel-logout.js" not in html  # nothing to continue to


def test_no_frames_means_a_plain_redirect_with_the_strict_policy(rp):
    set_metadata(rp.http.application, "webmail", post_logout_redirect_uris=[POST_LOGOUT])
    response = end_session(
        rp.http, id_token_hint=rp.tokens()["id_token"], post_logout_redirect_uri=POST_LOGOUT
    )
    assert response.status_code == 302
    assert "frame-src" not in csp_of(response)


def test_account_page_sign_out_of_this_device_shows_the_frames(frontchannel):
    rp = frontchannel
    rp.tokens()
    account = rp.http.get("/account/").get_data(as_text=True)
    sid = re.search(r'data-sid="([^"]+)"', account).group(1)
    token = csrf_token(account)
    response = rp.http.post("/account/sessions/end", data={"sid": sid, "csrf_token": token})
    assert response.status_code == 200
    assert len(frames_of(response)) == 1
    assert not signed_in(rp.http)


def test_the_continue_script_is_served(client):
    script = client.get("/static/frontchannel-logout.js")
    assert script.status_code == 200
    text = script.get_data(as_text=True)
    assert "location.replace" in text and 'addEventListener("load"' in text
