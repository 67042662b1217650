"""Protocol requests over plain http are refused unless https is how the client came.

Behind the reverse proxy that ends TLS, every request reaches the provider as http; the
scheme the client used comes from X-Forwarded-Proto, believed only with TRUSTED_PROXIES
(idp.security.trust_proxies). Authlib then refuses a token, introspection or userinfo
request whose URL is not https (loopback http aside, for development): a client talking to
the provider in clear over the network gets an error, not a token, and a client cannot talk
its way past that by sending X-Forwarded-Proto itself.
"""

from __future__ import annotations

import pytest
from helpers.clients import REDIRECT_URI, SECRET, assert_error, make_client, make_machine_client
from helpers.oidc_flow import basic

PUBLIC_HOST = "http://sso.haugiang.gov.vn"


def _token(app, **headers: str):
    make_machine_client(app, "lgsp", "openid")
    with app.test_client() as http:
        return http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={**basic("lgsp", SECRET), **headers},
            base_url=PUBLIC_HOST,
        )


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_https_at_the_trusted_proxy_is_https(app):
    response = _token(app, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["access_token"]


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_http_at_the_trusted_proxy_is_refused(app):
    response = _token(app, **{"X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.5"})
    assert_error(response, 400, "insecure_transport")


def test_a_client_cannot_claim_https_without_a_trusted_proxy(app):
    response = _token(app, **{"X-Forwarded-Proto": "https"})
    assert_error(response, 400, "insecure_transport")


@pytest.mark.parametrize("path", ["/oauth2/introspect", "/oauth2/revoke", "/oauth2/userinfo"])
def test_the_other_protocol_endpoints_refuse_clear_text_too(app, path):
    make_machine_client(app, "lgsp", "openid")
    with app.test_client() as http:
        response = http.post(
            path,
            data={"token": "x"},
            headers={**basic("lgsp", SECRET), "Authorization": "Bearer x"}
            if path.endswith("userinfo")
            else basic("lgsp", SECRET),
            base_url=PUBLIC_HOST,
        )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "insecure_transport"


def test_loopback_http_stays_allowed_for_development(app):
    make_machine_client(app, "lgsp", "openid")
    with app.test_client() as http:
        response = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers=basic("lgsp", SECRET),
            base_url="http://127.0.0.1:5000",
        )
    assert response.status_code == 200


def test_the_authorization_page_says_so_in_the_persons_language(app):
    make_client(app, "webmail")
    with app.test_client() as http:
        response = http.get(
            "/oauth2/authorize?response_type=code&client_id=webmail&scope=openid"
            f"&redirect_uri={REDIRECT_URI}&code_challenge={'x' * 43}&code_challenge_method=S256",
            base_url=PUBLIC_HOST,
        )
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Yêu cầu đăng nhập không hợp lệ" in page
    assert "insecure_transport" in page
