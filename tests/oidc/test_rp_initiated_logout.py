"""OpenID Connect RP-Initiated Logout 1.0 at the end_session endpoint.

Tests are named after the OpenID Foundation's oidcc-rp-initiated-logout-certification-test-
plan modules where one applies: after each sign-out the suite asks with prompt=none and
expects login_required; after a refused request nothing happened and nothing redirected.
"""

from __future__ import annotations

import base64
import json

import pytest
from helpers.clients import make_client
from helpers.logout_flow import (
    LOGOUT_TEST_CONFIG,
    POST_LOGOUT,
    confirm,
    end_session,
    set_metadata,
    signed_in,
)
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.pages import sign_out
from joserfc import jwt
from joserfc.jwk import RSAKey

STATE = "x" * 128  # the suite uses a long state to catch truncation


@pytest.fixture
def app_config():
    return dict(LOGOUT_TEST_CONFIG)


@pytest.fixture
def rp(app, rp):
    set_metadata(
        app,
        "webmail",
        post_logout_redirect_uris=[POST_LOGOUT, "https://rp.example/bye?lang=vi"],
    )
    return rp


def login_required_now(rp: RelyingParty) -> bool:
    response = rp.authorize(prompt="none", state="after")
    values = query_of(response.headers["Location"])
    return response.headers["Location"].startswith(REDIRECT_URI) and (
        values.get("error") == "login_required"
    )


def refused(response) -> str:
    """An error page: status 400, HTML, no redirect."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- the conformance modules


def test_oidcc_rp_initiated_logout(rp):
    id_token = rp.tokens()["id_token"]
    response = end_session(
        rp.http, id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT, state=STATE
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{POST_LOGOUT}?state={STATE}"
    assert "idp_sso=;" in response.headers["Set-Cookie"]
    assert not signed_in(rp.http)
    assert login_required_now(rp)


def test_oidcc_rp_initiated_logout_with_post(rp):
    id_token = rp.tokens()["id_token"]
    response = end_session(
        rp.http, "POST", id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT, state="s"
    )
    assert response.headers["Location"] == POST_LOGOUT + "?state=s"
    assert login_required_now(rp)


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(rp):
    id_token = rp.tokens()["id_token"]
    for uri in ("https://rp.example/elsewhere", POST_LOGOUT + "?x=1", POST_LOGOUT + "/"):
        html = refused(
            end_session(rp.http, id_token_hint=id_token, post_logout_redirect_uri=uri, state="s")
        )
        assert "Địa chỉ quay lại không hợp lệ" in html
    assert signed_in(rp.http)


def test_oidcc_rp_initiated_logout_no_state(rp):
    id_token = rp.tokens()["id_token"]
    response = end_session(rp.http, id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT)
    assert response.headers["Location"] == POST_LOGOUT
    assert login_required_now(rp)


def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(rp):
    id_token = rp.tokens()["id_token"]
    response = end_session(
        rp.http,
        id_token_hint=id_token,
        post_logout_redirect_uri="https://rp.example/bye?lang=vi",
        state="s&t",
    )
    assert response.headers["Location"] == "https://rp.example/bye?lang=vi&state=s%26t"


def test_oidcc_rp_initiated_logout_modified_id_token_hint(rp):
    id_token = rp.tokens()["id_token"]
    _header, payload, _signature = id_token.split(".")
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    for forged in (f"{none}.{payload}.", f"{none}.{payload}.{_signature}"):
        html = refused(
            end_session(
                rp.http, id_token_hint=forged, post_logout_redirect_uri=POST_LOGOUT, state="s"
            )
        )
        assert "Bạn chưa được đăng xuất" in html
    assert signed_in(rp.http)


def test_oidcc_rp_initiated_logout_bad_id_token_hint(rp):
    """An ID token signed by someone else (here: a key of the relying party's own)."""
    real = rp.validate_id_token(rp.tokens()["id_token"], nonce="n-0S6_WzA2Mj")
    key = RSAKey.generate_key(2048, parameters={"kid": rp.jwks().keys[0].kid})
    fake = jwt.encode({"alg": "RS256", "kid": key.kid}, real, key)
    refused(end_session(rp.http, id_token_hint=fake, post_logout_redirect_uri=POST_LOGOUT))
    assert signed_in(rp.http)


def test_oidcc_rp_initiated_logout_no_params(rp):
    rp.tokens()
    page = end_session(rp.http)
    html = page.get_data(as_text=True)
    assert "Bạn có muốn đăng xuất khỏi mọi hệ thống không?" in html
    assert signed_in(rp.http)  # asking changed nothing
    done = confirm(rp.http, page)
    assert done.status_code == 302 and done.headers["Location"].endswith("/logged-out")
    assert not signed_in(rp.http)
    assert login_required_now(rp)


def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(rp):
    id_token = rp.tokens()["id_token"]
    response = end_session(rp.http, id_token_hint=id_token, state="s")
    assert response.headers["Location"].endswith("/logged-out")
    assert login_required_now(rp)


def test_oidcc_rp_initiated_logout_only_state(rp):
    rp.tokens()
    done = confirm(rp.http, end_session(rp.http, state="s"))
    assert done.headers["Location"].endswith("/logged-out")
    assert login_required_now(rp)


def test_oidcc_rp_initiated_logout_no_id_token_hint(rp):
    """A redirect target without a client to check it against: refused, no redirect."""
    rp.tokens()
    html = refused(end_session(rp.http, post_logout_redirect_uri=POST_LOGOUT, state="s"))
    assert "Địa chỉ quay lại không hợp lệ" in html
    assert signed_in(rp.http)


# ---------------------------------------------------------------- client_id, hints


def test_client_id_with_a_registered_uri_redirects_after_confirmation(rp):
    rp.tokens()
    page = end_session(
        rp.http, client_id="webmail", post_logout_redirect_uri=POST_LOGOUT, state="s"
    )
    assert "Ứng dụng webmail yêu cầu đăng xuất." in page.get_data(as_text=True)
    done = confirm(rp.http, page)
    assert done.headers["Location"] == POST_LOGOUT + "?state=s"
    assert login_required_now(rp)


def test_unknown_or_disabled_client_is_refused(app, rp):
    rp.tokens()
    make_client(app, "retired", active=False, post_logout_redirect_uris=[POST_LOGOUT])
    for client_id in ("nobody", "retired"):
        html = refused(
            end_session(rp.http, client_id=client_id, post_logout_redirect_uri=POST_LOGOUT)
        )
        assert "Ứng dụng không được nhận diện" in html
    assert signed_in(rp.http)


def test_client_id_must_be_the_audience_of_the_hint(app, rp):
    make_client(app, "portal", post_logout_redirect_uris=[POST_LOGOUT])
    id_token = rp.tokens()["id_token"]
    refused(end_session(rp.http, id_token_hint=id_token, client_id="portal"))
    assert signed_in(rp.http)


def test_expired_id_token_hint_is_accepted(app, rp):
    """Section 2: the OP should accept an expired ID token it issued (RPs keep old ones)."""
    claims = rp.validate_id_token(rp.tokens()["id_token"], nonce="n-0S6_WzA2Mj")
    with app.app_context():
        from idp.keys.ring import sign_jwt

        expired = sign_jwt({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600})
    response = end_session(
        rp.http, id_token_hint=expired, post_logout_redirect_uri=POST_LOGOUT, state="s"
    )
    assert response.headers["Location"] == POST_LOGOUT + "?state=s"
    assert login_required_now(rp)


def test_hints_that_are_not_id_tokens_of_a_known_client_are_refused(app, rp):
    tokens = rp.tokens()
    claims = rp.validate_id_token(tokens["id_token"], nonce="n-0S6_WzA2Mj")
    with app.app_context():
        from idp.keys.ring import sign_jwt

        other_issuer = sign_jwt({**claims, "iss": "https://evil.example"})
        unknown_client = sign_jwt({**claims, "aud": "nobody", "azp": "nobody"})
    for hint in (tokens["access_token"], other_issuer, unknown_client, "not-a-jwt", "a.b.c"):
        refused(end_session(rp.http, id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT))
    assert signed_in(rp.http)


def test_hint_for_another_person_asks_first_and_signs_out_this_browser(rp, make_user):
    first = rp.tokens()["id_token"]
    sign_out(rp.http)
    make_user("tran.thi.binh@haugiang.gov.vn", given_name="Bình")
    rp.login("tran.thi.binh@haugiang.gov.vn")
    page = end_session(rp.http, id_token_hint=first, post_logout_redirect_uri=POST_LOGOUT)
    html = page.get_data(as_text=True)
    assert "dành cho một tài khoản khác" in html and "Nguyễn Văn Bình" in html
    assert signed_in(rp.http)
    done = confirm(rp.http, page)
    assert done.headers["Location"] == POST_LOGOUT
    assert not signed_in(rp.http)


def test_hint_of_an_earlier_session_asks_first(rp):
    old = rp.tokens()["id_token"]
    sign_out(rp.http)
    rp.login()
    page = end_session(rp.http, id_token_hint=old)
    assert 'name="logout_confirm"' in page.get_data(as_text=True)
    assert "dành cho một tài khoản khác" not in page.get_data(as_text=True)
    assert signed_in(rp.http)


def test_logout_hint_naming_someone_else_asks_first(rp):
    id_token = rp.tokens()["id_token"]
    page = end_session(rp.http, id_token_hint=id_token, logout_hint="someone@haugiang.gov.vn")
    assert "dành cho một tài khoản khác" in page.get_data(as_text=True)
    assert signed_in(rp.http)
    same = end_session(rp.http, id_token_hint=id_token, logout_hint="NGUYEN.VAN.AN@haugiang.gov.vn")
    assert same.status_code == 302 and not signed_in(rp.http)


def test_confirmation_needs_its_csrf_token(rp):
    rp.tokens()
    page = end_session(rp.http, state="s")
    response = rp.http.post("/oauth2/logout", data={"state": "s", "logout_confirm": "1"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    assert signed_in(rp.http)
    assert confirm(rp.http, page).status_code == 302


def test_confirmation_page_lets_the_form_end_at_the_relying_party(rp):
    rp.tokens()
    page = end_session(rp.http, client_id="webmail", post_logout_redirect_uri=POST_LOGOUT)
    csp = page.headers["Content-Security-Policy"]
    assert "form-action" not in csp  # Chrome applies form-action to the redirect after it
    assert "frame-ancestors 'none'" in csp


def test_already_signed_out_goes_straight_back(rp):
    id_token = rp.tokens()["id_token"]
    sign_out(rp.http)
    response = end_session(
        rp.http, id_token_hint=id_token, post_logout_redirect_uri=POST_LOGOUT, state="s"
    )
    assert response.headers["Location"] == POST_LOGOUT + "?state=s"
    assert end_session(rp.http).headers["Location"].endswith("/logged-out")


def test_repeated_or_oversized_parameters_are_refused(rp):
    id_token = rp.tokens()["id_token"]
    twice = rp.http.get(f"/oauth2/logout?id_token_hint={id_token}&state=a&state=b")
    refused(twice)
    refused(end_session(rp.http, id_token_hint=id_token, state="s" * 5000))
    assert signed_in(rp.http)


def test_pages_follow_ui_locales(rp):
    rp.tokens()
    page = end_session(rp.http, ui_locales="en")
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert 'name="ui_locales" value="en"' in page.get_data(as_text=True)
    error = end_session(rp.http, client_id="nobody", ui_locales="en-US vi")
    assert '<html lang="en">' in refused(error)


def test_sign_out_ends_the_session_on_the_server_not_only_the_cookie(app, rp):
    """A copy of the old cookie is worth nothing after the sign-out."""
    id_token = rp.tokens()["id_token"]
    cookie = rp.http.get_cookie("idp_sso").value
    end_session(rp.http, id_token_hint=id_token)
    other = app.test_client()
    other.set_cookie("idp_sso", cookie)
    assert other.get("/account/").status_code == 302
