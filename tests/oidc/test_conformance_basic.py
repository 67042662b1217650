"""The OpenID Foundation's oidcc-basic-certification-test-plan, one test per module.

Each test is named after its conformance module (docs/conformance.md maps them) and checks
what the suite checks: the response, then the ID token's signature against /jwks and its
claims (iss, aud, azp, exp, iat, auth_time, nonce, at_hash) and the RFC 9207 `iss`.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.oidc_flow import EMAIL, ISSUER, REDIRECT_URI, SECRET, RelyingParty, query_of
from helpers.session_flow import age_sessions

NONCE = "n-0S6_WzA2Mj"


def redirected_error(response) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    values = query_of(location)
    assert values["iss"] == ISSUER  # RFC 9207, errors included
    return values


def test_oidcc_server(rp):
    body = rp.tokens()
    flow = body["_flow"]
    assert flow.state == "af0ifjsldkj" and flow.params["iss"] == ISSUER
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    claims = rp.validate_id_token(body["id_token"], nonce=NONCE, access_token=body["access_token"])
    assert claims["acr"] == "urn:hg:loa:1" and claims["amr"] == ["pwd"]
    assert isinstance(claims["sid"], str) and claims["sid"]


def test_oidcc_response_type_missing(rp):
    rp.login()
    values = redirected_error(rp.authorize(response_type=None, state="s1"))
    assert values["error"] in ("unsupported_response_type", "invalid_request")
    assert values["state"] == "s1"


def test_oidcc_idtoken_signature(rp):
    body = rp.tokens()
    header = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[0] + "=="))
    kids = {k.kid for k in rp.jwks().keys}
    assert header["alg"] == "RS256" and header["kid"] in kids
    head, payload, signature = body["id_token"].split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(Exception):  # noqa: B017  (any joserfc error)
        rp.validate_id_token(forged, nonce=NONCE)


def test_oidcc_idtoken_unsigned(rp):
    """Unsigned ID tokens are not offered: the module is skipped by the suite for us."""
    metadata = rp.http.get("/.well-known/openid-configuration").get_json()
    assert "none" not in metadata["id_token_signing_alg_values_supported"]


@pytest.mark.parametrize("how", ["header", "post-header", "body"])
def test_oidcc_userinfo_get_post_header_post_body(rp, how):
    """oidcc-userinfo-get, oidcc-userinfo-post-header and oidcc-userinfo-post-body."""
    body = rp.tokens(scope="openid profile email")
    id_claims = rp.validate_id_token(body["id_token"], nonce=NONCE)
    response = rp.userinfo(body["access_token"], how=how)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    assert info["sub"] == id_claims["sub"]
    assert info["email"] == EMAIL and info["name"] == "Nguyễn Văn An"


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(rp):
    body = rp.tokens(nonce=None)
    claims = rp.validate_id_token(body["id_token"], nonce=None)
    assert "nonce" not in claims


def _scope_claims(rp, scope: str) -> dict:
    body = rp.tokens(scope=scope)
    assert set(body["scope"].split()) <= set(scope.split())
    return rp.userinfo(body["access_token"]).get_json()


def test_oidcc_scope_profile(rp):
    info = _scope_claims(rp, "openid profile")
    assert info["family_name"] == "Nguyễn" and info["middle_name"] == "Văn"
    assert info["given_name"] == "An" and info["preferred_username"] == EMAIL
    assert info["locale"] == "vi" and isinstance(info["updated_at"], int)
    assert "email" not in info


def test_oidcc_scope_email(rp):
    info = _scope_claims(rp, "openid email")
    assert info["email"] == EMAIL and info["email_verified"] is True
    assert "name" not in info


def test_oidcc_scope_address(rp):
    """No postal addresses in the directory: the scope is ignored, the request succeeds."""
    info = _scope_claims(rp, "openid address")
    assert set(info) == {"sub"}


def test_oidcc_scope_phone(app, rp):
    from idp.directory.models import User
    from idp.extensions import db

    with app.app_context():
        db.session.execute(sa.update(User).values(phone_number="+84 293 3870 000"))
        db.session.commit()
    info = _scope_claims(rp, "openid phone")
    assert info["phone_number"] == "+84 293 3870 000"
    assert info["phone_number_verified"] is False


def test_oidcc_scope_all(rp):
    info = _scope_claims(rp, "openid profile email address phone")
    assert {"name", "email", "preferred_username"} <= set(info)


def test_oidcc_ensure_other_scope_order_succeeds(rp):
    body = rp.tokens(scope="email openid")
    assert set(body["scope"].split()) == {"email", "openid"}
    rp.validate_id_token(body["id_token"], nonce=NONCE)


@pytest.mark.parametrize("display", ["page", "popup"])
def test_oidcc_display_page_popup(rp, display):
    body = rp.tokens(display=display)
    rp.validate_id_token(body["id_token"], nonce=NONCE)


def test_oidcc_prompt_login(app, rp):
    rp.login()
    age_sessions(app, 5)
    first = rp.validate_id_token(rp.tokens()["id_token"], nonce=NONCE)
    response = rp.authorize(prompt="login", nonce=NONCE, state="s2")
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert query_of(response.headers["Location"])["force"] == "1"
    back = rp.sign_in_through(response)
    code = query_of(back.headers["Location"])["code"]
    second = rp.validate_id_token(
        rp.exchange_code(code)["id_token"],
        nonce=NONCE,
    )
    assert second["auth_time"] > first["auth_time"]
    assert second["sub"] == first["sub"]


def test_oidcc_prompt_none_not_logged_in(rp):
    values = redirected_error(rp.authorize(prompt="none", state="s3"))
    assert values["error"] == "login_required" and values["state"] == "s3"


def test_oidcc_prompt_none_logged_in(rp):
    first = rp.validate_id_token(rp.tokens()["id_token"], nonce=NONCE)
    body = rp.tokens(prompt="none")
    second = rp.validate_id_token(body["id_token"], nonce=NONCE)
    assert second["sub"] == first["sub"] and second["auth_time"] == first["auth_time"]


def test_oidcc_max_age_1(app, rp):
    rp.login()
    age_sessions(app, 5)
    first = rp.validate_id_token(rp.tokens()["id_token"], nonce=NONCE)
    response = rp.authorize(max_age="1", nonce=NONCE)
    assert urlsplit(response.headers["Location"]).path == "/login"
    back = rp.sign_in_through(response)
    code = query_of(back.headers["Location"])["code"]
    second = rp.validate_id_token(
        rp.exchange_code(code)["id_token"],
        nonce=NONCE,
    )
    assert second["auth_time"] > first["auth_time"]


def test_oidcc_max_age_10000(rp):
    rp.tokens()
    body = rp.tokens(max_age="10000")
    assert "auth_time" in rp.validate_id_token(body["id_token"], nonce=NONCE)


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(rp):
    body = rp.tokens(extra="foobar", another_unknown="1")
    rp.validate_id_token(body["id_token"], nonce=NONCE)


def test_oidcc_id_token_hint(rp):
    first = rp.tokens()
    body = rp.tokens(prompt="none", id_token_hint=first["id_token"])
    assert (
        rp.validate_id_token(body["id_token"], nonce=NONCE)["sub"]
        == rp.validate_id_token(first["id_token"], nonce=NONCE)["sub"]
    )


def test_oidcc_login_hint(rp):
    response = rp.authorize(login_hint=EMAIL)
    login_page = rp.http.get(response.headers["Location"]).get_data(as_text=True)
    assert f'value="{EMAIL}"' in login_page


def test_oidcc_ui_locales(rp):
    response = rp.authorize(ui_locales="en-US vi")
    login_page = rp.http.get(response.headers["Location"]).get_data(as_text=True)
    assert '<html lang="en">' in login_page
    body = rp.tokens(ui_locales="en")
    rp.validate_id_token(body["id_token"], nonce=NONCE)


def test_oidcc_claims_locales(rp):
    body = rp.tokens(claims_locales="vi en", scope="openid profile")
    assert rp.userinfo(body["access_token"]).get_json()["name"] == "Nguyễn Văn An"


def test_oidcc_ensure_request_with_acr_values_succeeds(rp):
    body = rp.tokens(acr_values="urn:hg:loa:1 urn:example:unknown")
    assert rp.validate_id_token(body["id_token"], nonce=NONCE)["acr"] == "urn:hg:loa:1"


def test_oidcc_codereuse(rp):
    flow = rp.code_flow()
    assert rp.exchange(flow).status_code == 200
    again = rp.exchange(flow)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


def test_oidcc_codereuse_30seconds(rp):
    """A second use also revokes what the first one issued (RFC 6749 4.1.2)."""
    flow = rp.code_flow(scope="openid email")
    first = rp.exchange(flow).get_json()
    assert rp.userinfo(first["access_token"]).status_code == 200
    again = rp.exchange(flow)
    assert again.get_json()["error"] == "invalid_grant"
    assert rp.userinfo(first["access_token"]).status_code == 401
    assert rp.introspect(first["access_token"]).get_json() == {"active": False}
    assert rp.refresh(first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_oidcc_ensure_registered_redirect_uri(rp):
    rp.login()
    response = rp.authorize(redirect_uri="https://rp.example/other")
    assert response.status_code == 400 and "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert "Địa chỉ quay lại không hợp lệ" in page and "invalid_request" in page


def test_oidcc_ensure_post_request_succeeds(rp):
    rp.login()
    response = rp.authorize(method="POST", nonce=NONCE, state="p1")
    values = query_of(response.headers["Location"])
    assert values["state"] == "p1" and values["iss"] == ISSUER
    body = rp.exchange_code(values["code"])
    rp.validate_id_token(body["id_token"], nonce=NONCE)


def test_oidcc_server_client_secret_post(app, rp):
    make_client(app, "portal", auth_method="client_secret_post")
    portal = RelyingParty(rp.http, "portal")
    flow = portal.code_flow()
    data = {
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": REDIRECT_URI,
        "client_id": "portal",
        "client_secret": SECRET,
    }
    body = rp.http.post("/oauth2/token", data=data).get_json()
    portal.validate_id_token(body["id_token"], nonce=NONCE, access_token=body["access_token"])


def test_oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(rp):
    rp.login()
    values = redirected_error(rp.authorize(request_uri="https://rp.example/request.jwt"))
    assert values["error"] == "request_uri_not_supported"


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(rp):
    rp.login()
    unsigned = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    values = redirected_error(rp.authorize(request=unsigned, state="r1"))
    assert values["error"] == "request_not_supported" and values["state"] == "r1"


def test_oidcc_claims_essential(rp):
    claims = json.dumps({"userinfo": {"name": {"essential": True}}})
    body = rp.tokens(scope="openid", claims=claims)
    info = rp.userinfo(body["access_token"]).get_json()
    assert info["name"] == "Nguyễn Văn An" and "email" not in info


def test_oidcc_ensure_request_object_with_redirect_uri(rp):
    """Request objects are refused, so the client learns it at its registered URI."""
    rp.login()
    values = redirected_error(rp.authorize(redirect_uri=None, request="e30.e30."))
    assert values["error"] == "request_not_supported"


def test_oidcc_refresh_token(app, rp):
    make_client(app, "portal")
    body = rp.tokens(scope="openid email offline_access", prompt="consent")
    first = rp.validate_id_token(body["id_token"], nonce=NONCE)
    assert re.fullmatch(r"[\x20-\x7e]+", body["refresh_token"])
    refreshed = rp.refresh(body["refresh_token"]).get_json()
    second = rp.validate_id_token(refreshed["id_token"], access_token=refreshed["access_token"])
    for claim in ("iss", "sub", "aud", "azp", "auth_time", "acr", "sid"):
        assert second[claim] == first[claim], claim
    assert rp.userinfo(refreshed["access_token"]).status_code == 200
    # Bound to its client: another client cannot use it.
    other = RelyingParty(rp.http, "portal").refresh(refreshed["refresh_token"])
    assert other.status_code == 400 and other.get_json()["error"] == "invalid_grant"


def test_oidcc_ensure_request_with_valid_pkce_succeeds(rp):
    body = rp.tokens(pkce=True)
    rp.validate_id_token(body["id_token"], nonce=NONCE, access_token=body["access_token"])
