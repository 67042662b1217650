"""After sign-in only local paths are followed: no open redirect (RFC 9700 section 4.11)."""

from __future__ import annotations

import pytest
from helpers.pages import csrf_token

from idp.pages import is_local_path

ATTACKS = [
    "//evil.example",
    "//evil.example/account/",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "evil.example",
    "https:evil.example",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("target", ATTACKS)
def test_foreign_or_odd_targets_are_not_local(target):
    assert not is_local_path(target)


@pytest.mark.parametrize(
    "target",
    [
        "/account/",
        "/oauth2/authorize?client_id=webmail&redirect_uri=https%3A%2F%2Fmail.haugiang.gov.vn%2Fcb"
        "&response_type=code&scope=openid&state=a%2Fb&nonce=n",
        "/logout?x=//evil.example",
    ],
)
def test_local_paths_are_local(target):
    assert is_local_path(target)


@pytest.mark.parametrize("target", ATTACKS)
def test_sign_in_never_redirects_away(client, auth, make_user, target):
    make_user()
    response = auth.login(next=target)
    if "\x00" in target:  # refused before the view (tests/test_errors.py)
        assert response.status_code == 400
        return
    assert response.status_code == 302
    assert response.headers["Location"] in ("/account/", "http://idp.test/account/")


def test_sign_in_from_a_get_with_an_attack_does_not_carry_it(client):
    html = client.get("/login?next=//evil.example").get_data(as_text=True)
    assert 'name="next" type="hidden" value=""' in html


def test_sign_in_returns_to_the_waiting_authorization_request(client, make_user):
    """The contract the protocol side relies on: /login?next=<local authorize URL>."""
    import re

    make_user()
    authorize = (
        "/oauth2/authorize?client_id=webmail&redirect_uri=https%3A%2F%2Fmail.haugiang.gov.vn%2Fcb"
        "&response_type=code&scope=openid+profile&state=xyz&ui_locales=vi"
    )
    from urllib.parse import quote

    page = client.get("/login?next=" + quote(authorize, safe="")).get_data(as_text=True)
    token = csrf_token(page)
    next_value = re.search(r'name="next" type="hidden" value="([^"]+)"', page).group(1)
    assert next_value.replace("&amp;", "&") == authorize
    response = client.post(
        "/login",
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": "Mật-khẩu-đủ-dài-2026",
            "next": next_value.replace("&amp;", "&"),
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == authorize
    # The browser now carries the SSO cookie that current_session() reads.
    from idp.sessions import SSO_COOKIE, current_session

    cookie = client.get_cookie(SSO_COOKIE)
    assert cookie is not None
    with client.application.test_request_context(
        headers={"Cookie": f"{SSO_COOKIE}={cookie.value}"}
    ):
        sso = current_session()
        assert sso is not None
        assert sso.user.email == "nguyen.van.an@haugiang.gov.vn"
        assert sso.amr == ["pwd"]


def test_language_switch_only_returns_to_local_paths(client):
    response = client.get("/lang/en?next=//evil.example")
    assert response.headers["Location"].endswith("/account/")
    response = client.get("/lang/en?next=/login")
    assert response.headers["Location"].endswith("/login")
