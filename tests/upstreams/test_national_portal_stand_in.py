"""The national portal stand-in behaves as the broker's tests assume it does.

Driven with plain HTTP (no code of ours in between): no discovery document, the code flow
at /oauth2/*, a thin ID token with `acr` LoA1/LoA2 signed with the key the fixture gave
it, PascalCase Vietnamese claims at userinfo only, back-channel logout tokens toward its
relying parties, and RP-initiated logout at the URL given out of band.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from helpers.live import wait_until
from helpers.national_portal import (
    CITIZEN,
    CITIZEN_USERNAME,
    EVENT_BACKCHANNEL_LOGOUT,
    NationalPortal,
    national_portal_ready,
    portal_client,
)
from helpers.receiver import LogoutReceiver
from joserfc import jwt
from joserfc.jwk import KeySet

CLIENT_ID = "tinh-hau-giang"
SECRET = "np-secret-" + "k" * 40
REDIRECT_URI = "http://127.0.0.1:9/login/upstream/national/callback"


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    r = LogoutReceiver()
    yield r
    r.stop()


@pytest.fixture
def portal(receiver) -> Iterator[NationalPortal]:
    national_portal_ready()
    client = portal_client(
        CLIENT_ID,
        SECRET,
        redirect_uri=REDIRECT_URI,
        post_logout_redirect_uri="http://127.0.0.1:9/",
        backchannel_logout_uri=receiver.url(),
    )
    p = NationalPortal([client])
    yield p
    p.stop()


def sign_in(portal: NationalPortal, http: requests.Session, acr: str) -> dict:
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": REDIRECT_URI,
        "acr_values": acr,
        "state": state,
        "nonce": nonce,
    }
    page = http.get(portal.authorization_endpoint + "?" + urlencode(query), timeout=10)
    assert "Tên đăng nhập" in page.text and 'name="username"' in page.text
    action = page.url.rstrip("/") + "/login"
    answer = http.post(action, data={"username": CITIZEN_USERNAME}, allow_redirects=False)
    while answer.status_code in (302, 303) and not answer.headers["Location"].startswith(
        REDIRECT_URI
    ):
        location = answer.headers["Location"]
        answer = http.get(requests.compat.urljoin(answer.url, location), allow_redirects=False)
    callback = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert callback["state"] == [state]
    assert callback["iss"] == [portal.issuer]
    tokens = requests.post(
        portal.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": callback["code"][0],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(CLIENT_ID, SECRET),
        timeout=10,
    ).json()
    keys = KeySet.import_key_set(requests.get(portal.jwks_uri, timeout=5).json())
    id_token = jwt.decode(tokens["id_token"], keys)
    assert id_token.claims["nonce"] == nonce
    return {"tokens": tokens, "id_token": id_token.claims}


def test_no_discovery_document(portal):
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        assert requests.get(portal.issuer + path, timeout=5).status_code == 404


def test_code_flow_thin_id_token_and_pascalcase_userinfo(portal):
    with requests.Session() as http:
        result = sign_in(portal, http, "LoA2")
    claims = result["id_token"]
    assert claims["iss"] == portal.issuer and claims["aud"] == CLIENT_ID
    assert claims["sub"] == CITIZEN["sub"]
    assert claims["acr"] == "LoA2"
    assert claims["sid"]
    # Thin: none of the person's data is in the ID token.
    assert not {"SoDinhDanh", "HoVaTen", "ThuDienTu"} & set(claims)
    info = requests.get(
        portal.userinfo_endpoint,
        headers={"Authorization": "Bearer " + result["tokens"]["access_token"]},
        timeout=5,
    ).json()
    assert info["sub"] == CITIZEN["sub"]
    assert info["HoVaTen"] == "Nguyễn Văn An"
    assert len(info["SoDinhDanh"]) == 12 and info["SoDinhDanh"].isdigit()
    assert info["NgayThangNamSinh"] == "19900115"
    assert {"LoaiTaiKhoan", "ThuDienTu", "SoDienThoai", "TechID", "loAs"} <= set(info)


def test_the_level_asked_for_is_the_acr(portal):
    with requests.Session() as http:
        assert sign_in(portal, http, "LoA1")["id_token"]["acr"] == "LoA1"


def test_backchannel_logout_on_demand(portal, receiver):
    with requests.Session() as http:
        claims = sign_in(portal, http, "LoA1")["id_token"]
    assert [s["accountId"] for s in portal.sessions()] == [CITIZEN["sub"]]
    assert portal.end_sessions_of(CITIZEN["sub"]) == {"sent": 1, "failed": []}
    assert wait_until(lambda: receiver.received)
    keys = KeySet.import_key_set(requests.get(portal.jwks_uri, timeout=5).json())
    token = jwt.decode(receiver.received[0].logout_token, keys)
    assert token.header["typ"] == "logout+jwt"
    assert token.claims["sub"] == CITIZEN["sub"] and token.claims["sid"] == claims["sid"]
    assert token.claims["aud"] == CLIENT_ID and EVENT_BACKCHANNEL_LOGOUT in token.claims["events"]
    assert "nonce" not in token.claims
    assert portal.sessions() == []


def test_rp_initiated_logout_ends_the_session(portal, receiver):
    with requests.Session() as http:
        result = sign_in(portal, http, "LoA1")
        query = {
            "id_token_hint": result["tokens"]["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:9/",
            "state": "s1",
        }
        page = http.get(portal.end_session_endpoint + "?" + urlencode(query), timeout=10)
        assert "op.logoutForm" in page.text
        action = page.text.split('action="')[1].split('"')[0]
        xsrf = page.text.split('name="xsrf" value="')[1].split('"')[0]
        answer = http.post(
            requests.compat.urljoin(page.url, action),
            data={"xsrf": xsrf, "logout": "yes"},
            allow_redirects=False,
        )
    assert answer.headers["Location"].startswith("http://127.0.0.1:9/")
    assert portal.sessions() == []
    assert wait_until(lambda: receiver.received)
