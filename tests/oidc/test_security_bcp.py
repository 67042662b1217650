"""RFC 9700 (OAuth 2.0 Security Best Current Practice) checks: code reuse, PKCE and its
downgrade, exact redirect URIs, refresh token replay, mix-up defence (`iss`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.oidc_flow import ISSUER, REDIRECT_URI, RelyingParty, pkce_pair, query_of
from helpers.pages import sign_out


@pytest.fixture
def app_(app, rp):
    make_client(
        app,
        "mobile",
        auth_method="none",
        secret=None,
        redirect_uris=["vn.gov.haugiang.app:/oauth2redirect", "http://127.0.0.1/callback"],
        application_type="native",
    )
    return app


def mobile(rp) -> RelyingParty:
    return RelyingParty(rp.http, "mobile", secret=None)


def _error(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return query_of(response.headers["Location"])["error"]


# ---- 4.5 authorization code injection / reuse


def test_code_is_single_use_and_reuse_revokes_what_it_issued(rp):
    flow = rp.code_flow(scope="openid offline_access")
    first = rp.exchange(flow).get_json()
    assert rp.exchange(flow).get_json()["error"] == "invalid_grant"
    assert rp.introspect(first["access_token"]).get_json()["active"] is False
    assert rp.introspect(first["refresh_token"]).get_json()["active"] is False


def test_code_is_bound_to_its_client(app, rp):
    make_client(app, "portal")
    flow = rp.code_flow()
    stolen = RelyingParty(rp.http, "portal").exchange(flow)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    # The rightful client can still use it: a foreign presentation does not burn it.
    assert rp.exchange(flow).status_code == 200


def test_code_is_bound_to_its_redirect_uri(app, rp):
    make_client(app, "two", redirect_uris=[REDIRECT_URI, "https://rp.example/other"])
    two = RelyingParty(rp.http, "two")
    flow = two.code_flow()
    response = two.exchange(flow, redirect_uri="https://rp.example/other")
    assert response.get_json()["error"] == "invalid_grant"


def test_expired_code_is_refused(app, rp):
    from idp.extensions import db
    from idp.oidc.token_models import AuthorizationCode

    flow = rp.code_flow()
    with app.app_context():
        for row in db.session.execute(sa.select(AuthorizationCode)).scalars():
            row.expires_at -= timedelta(seconds=61)
        db.session.commit()
    assert rp.exchange(flow).get_json()["error"] == "invalid_grant"


# ---- 2.1.1 / 4.8 PKCE


def test_public_clients_must_use_pkce(app_, rp):
    rp.login()
    response = mobile(rp).authorize(redirect_uri="vn.gov.haugiang.app:/oauth2redirect")
    assert _error(response) == "invalid_request"


def test_plain_pkce_is_refused(app_, rp):
    rp.login()
    for method in ("plain", None):
        response = mobile(rp).authorize(
            redirect_uri="vn.gov.haugiang.app:/oauth2redirect",
            code_challenge="a" * 43,
            code_challenge_method=method,
        )
        assert _error(response) == "invalid_request", method


def test_public_client_code_flow_with_pkce_and_loopback_port(app_, rp):
    app_client = mobile(rp)
    flow = app_client.code_flow(pkce=True, redirect_uri="http://127.0.0.1:53412/callback")
    response = app_client.exchange(flow, redirect_uri="http://127.0.0.1:53412/callback")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    app_client.validate_id_token(body["id_token"], nonce=flow.nonce)


def test_wrong_or_missing_verifier_is_refused(rp):
    flow = rp.code_flow(pkce=True)
    wrong, _ = pkce_pair()
    assert rp.exchange(flow, code_verifier=wrong).get_json()["error"] == "invalid_grant"
    flow = rp.code_flow(pkce=True)
    response = rp.token(
        {"grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT_URI}
    )
    assert response.get_json()["error"] == "invalid_request"


def test_pkce_downgrade_is_refused(rp):
    """A verifier for a code issued without a challenge (RFC 9700 4.8.2)."""
    flow = rp.code_flow()
    verifier, _ = pkce_pair()
    assert rp.exchange(flow, code_verifier=verifier).get_json()["error"] == "invalid_request"


# ---- 4.1 redirect URIs


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example/callback/",
        "https://rp.example/callback?x=1",
        "https://rp.example/callback#frag",
        "https://RP.example/callback",
        "https://rp.example.evil.example/callback",
        "http://rp.example/callback",
        "https://rp.example/callbacks",
    ],
)
def test_redirect_uri_must_match_exactly_and_is_never_redirected_to(rp, redirect_uri):
    rp.login()
    response = rp.authorize(redirect_uri=redirect_uri)
    assert response.status_code == 400 and "Location" not in response.headers


# ---- 4.4 mix-up: every authorization response names its issuer (RFC 9207)


def test_iss_in_success_and_error_responses(rp):
    flow = rp.code_flow()
    assert flow.params["iss"] == ISSUER
    response = rp.authorize(prompt="none", max_age="-1")
    assert query_of(response.headers["Location"])["iss"] == ISSUER


# ---- 4.14 refresh tokens


def test_refresh_tokens_rotate_and_replay_revokes_the_family(rp):
    body = rp.tokens(scope="openid offline_access")
    first = body["refresh_token"]
    second = rp.refresh(first).get_json()
    assert second["refresh_token"] != first
    third = rp.refresh(second["refresh_token"]).get_json()
    assert rp.introspect(third["access_token"]).get_json()["active"] is True
    replay = rp.refresh(first)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    # The attacker's replay ended the legitimate client's tokens too (RFC 9700 4.14.2).
    assert rp.refresh(third["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.introspect(third["access_token"]).get_json()["active"] is False
    assert rp.introspect(body["access_token"]).get_json()["active"] is False


@pytest.mark.parametrize("app_config", [{"REFRESH_TOKEN_REUSE_GRACE_SECONDS": 30}])
def test_grace_covers_only_the_immediately_previous_token(rp):
    body = rp.tokens(scope="openid offline_access")
    first = body["refresh_token"]
    second = rp.refresh(first).get_json()["refresh_token"]
    # The answer was lost on a flaky network: the previous token works once more...
    retried = rp.refresh(first)
    assert retried.status_code == 200, retried.get_data(as_text=True)
    third = retried.get_json()["refresh_token"]
    # ...which retires the token it had been replaced by,
    assert rp.refresh(second).get_json()["error"] == "invalid_grant"
    # and that replay ended the family.
    assert rp.refresh(third).get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("app_config", [{"REFRESH_TOKEN_REUSE_GRACE_SECONDS": 30}])
def test_grace_never_covers_older_tokens(rp):
    body = rp.tokens(scope="openid offline_access")
    first = body["refresh_token"]
    second = rp.refresh(first).get_json()["refresh_token"]
    third = rp.refresh(second).get_json()["refresh_token"]
    assert rp.refresh(first).get_json()["error"] == "invalid_grant"
    assert rp.refresh(third).get_json()["error"] == "invalid_grant"


def test_refresh_cannot_widen_the_scope(rp):
    body = rp.tokens(scope="openid email")
    response = rp.refresh(body["refresh_token"], scope="openid email phone")
    assert response.get_json()["error"] == "invalid_scope"
    narrower = rp.refresh(body["refresh_token"], scope="openid").get_json()
    assert narrower["scope"] == "openid"


def test_refresh_without_offline_access_ends_with_the_session(rp):
    body = rp.tokens(scope="openid email")
    sign_out(rp.http)
    assert rp.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_offline_access_outlives_the_session(rp):
    body = rp.tokens(scope="openid email offline_access")
    assert "offline_access" in body["scope"]
    sign_out(rp.http)
    assert rp.refresh(body["refresh_token"]).status_code == 200


def test_refresh_stops_when_the_user_is_disabled(app, rp):
    from idp.directory.models import User
    from idp.extensions import db

    body = rp.tokens(scope="openid offline_access")
    with app.app_context():
        db.session.execute(sa.update(User).values(status="disabled"))
        db.session.commit()
    assert rp.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(body["access_token"]).status_code == 401
    assert rp.introspect(body["access_token"]).get_json()["active"] is False


def test_refresh_token_is_stored_hashed(app, rp):
    from idp.extensions import db
    from idp.oidc.token_models import AuthorizationCode, RefreshToken

    body = rp.tokens(scope="openid offline_access")
    with app.app_context():
        hashes = list(db.session.execute(sa.select(RefreshToken.token_hash)).scalars())
        codes = list(db.session.execute(sa.select(AuthorizationCode.code_hash)).scalars())
    assert body["refresh_token"] not in hashes and len(hashes) == 1
    assert body["_flow"].code not in codes and len(codes) == 1
