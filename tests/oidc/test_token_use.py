"""Using tokens: userinfo (OIDC Core 5.3, RFC 6750 errors), introspection (RFC 7662) and
revocation (RFC 7009); expired, revoked and unknown tokens are never active."""

from __future__ import annotations

import json
import time

import pytest
from helpers.clients import make_client
from helpers.oidc_flow import ISSUER, SECRET, RelyingParty, basic

USERINFO = "/oauth2/userinfo"


def challenge(response) -> str:
    assert response.status_code in (400, 401, 403)
    return response.headers["WWW-Authenticate"]


def forged_access_token(app, **claims) -> str:
    """An access token signed by our own key ring, with the given claims."""
    from idp.keys import ring

    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "someone",
        "aud": "webmail",
        "exp": now + 600,
        "iat": now,
        "jti": "j-1",
        "client_id": "webmail",
        "scope": "openid",
        "gid": "g-1",
    }
    with app.app_context():
        return ring.sign_jwt({**base, **claims}, typ="at+jwt")


# ---- userinfo


def test_userinfo_without_a_token_challenges_without_an_error_code(rp):
    response = rp.http.get(USERINFO)
    assert response.status_code == 401
    assert challenge(response) == f'Bearer realm="{ISSUER}"'


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic abc", "Token abc", "bearer"],
)
def test_userinfo_malformed_authorization_is_invalid_request(rp, authorization):
    response = rp.http.get(USERINFO, headers={"Authorization": authorization})
    assert response.status_code == 400
    assert 'error="invalid_request"' in challenge(response)


@pytest.mark.parametrize("token", ["abc", "a.b.c", "x" * 20000, "eyJhbGciOiJub25lIn0.e30."])
def test_userinfo_unknown_token_is_invalid_token(rp, token):
    response = rp.userinfo(token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)
    assert response.get_json()["error"] == "invalid_token"


def test_userinfo_token_in_header_and_body_is_refused(rp):
    token = rp.tokens()["access_token"]
    response = rp.http.post(
        USERINFO, data={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400


def test_userinfo_token_in_the_query_is_not_read(rp):
    token = rp.tokens()["access_token"]
    assert rp.http.get(f"{USERINFO}?access_token={token}").status_code == 401


def test_userinfo_expired_token(app, rp):
    rp.tokens()
    from idp.directory.models import User
    from idp.extensions import db

    with app.app_context():
        sub = db.session.query(User.sub).scalar()
    now = int(time.time())
    token = forged_access_token(app, sub=sub, exp=now - 1, iat=now - 700)
    assert 'error="invalid_token"' in challenge(rp.userinfo(token))
    assert rp.introspect(token).get_json() == {"active": False}


def test_userinfo_needs_the_openid_scope(rp):
    token = rp.tokens(scope="email")["access_token"]
    response = rp.userinfo(token)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge(response)


def test_userinfo_refuses_tokens_of_another_issuer_or_kind(app, rp):
    rp.tokens()
    for claims in ({"iss": "https://elsewhere.example"}, {"gid": None}):
        assert rp.userinfo(forged_access_token(app, **claims)).status_code == 401
    from idp.keys import ring

    with app.app_context():
        id_token_like = ring.sign_jwt({"iss": ISSUER, "sub": "x"}, typ="JWT")
    assert rp.userinfo(id_token_like).status_code == 401


def test_userinfo_with_org_scope_gives_unit_path_title_and_roles(app, rp, make_unit, make_user):
    from idp.directory.models import Unit, User
    from idp.extensions import db

    make_unit("UBND", "Ủy ban nhân dân tỉnh", kind="province")
    make_unit("STTTT", "Sở Thông tin và Truyền thông", parent="UBND")
    make_unit("STTTT-VP", "Văn phòng Sở", kind="sub_unit", parent="STTTT")
    with app.app_context():
        user = db.session.query(User).one()
        user.unit_id = db.session.query(Unit.id).filter_by(code="STTTT-VP").scalar()
        user.title = "Chuyên viên"
        user.roles = ["editor"]
        db.session.commit()
    body = rp.tokens(scope="openid org")
    info = rp.userinfo(body["access_token"]).get_json()
    assert info["unit_code"] == "STTTT-VP" and info["unit_name"] == "Văn phòng Sở"
    assert [u["code"] for u in info["unit_path"]] == ["UBND", "STTTT", "STTTT-VP"]
    assert info["title"] == "Chuyên viên" and info["roles"] == ["editor"]
    id_claims = rp.validate_id_token(body["id_token"], nonce="n-0S6_WzA2Mj")
    assert id_claims["unit_path"] == info["unit_path"]


def test_claims_parameter_for_the_id_token(rp):
    claims = json.dumps({"id_token": {"email": None, "auth_time": {"essential": True}}})
    body = rp.tokens(scope="openid", claims=claims)
    id_claims = rp.validate_id_token(body["id_token"], nonce="n-0S6_WzA2Mj")
    assert id_claims["email"] == "nguyen.van.an@haugiang.gov.vn"
    assert "email" not in rp.userinfo(body["access_token"]).get_json()


# ---- introspection


def test_introspection_of_a_live_access_token(rp):
    body = rp.tokens(scope="openid email")
    response = rp.introspect(body["access_token"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    claims = rp.access_token_claims(body["access_token"])
    assert info["active"] is True and info["scope"] == "openid email"
    assert info["client_id"] == "webmail" and info["sub"] == claims["sub"]
    assert info["exp"] == claims["exp"] and info["iss"] == ISSUER
    assert info["acr"] == "urn:hg:loa:1" and info["token_type"] == "Bearer"


def test_introspection_of_refresh_tokens(rp):
    body = rp.tokens(scope="openid offline_access")
    info = rp.introspect(body["refresh_token"], token_type_hint="refresh_token").get_json()
    assert info["active"] is True and info["client_id"] == "webmail"
    rp.refresh(body["refresh_token"])
    assert rp.introspect(body["refresh_token"]).get_json() == {"active": False}


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "whatever"])
def test_introspection_ignores_wrong_hints(rp, hint):
    body = rp.tokens()
    assert rp.introspect(body["access_token"], token_type_hint=hint).get_json()["active"]


def test_introspection_needs_an_authenticated_confidential_client(app, rp):
    token = rp.tokens()["access_token"]
    response = rp.http.post("/oauth2/introspect", data={"token": token})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    response = rp.http.post(
        "/oauth2/introspect", data={"token": token}, headers=basic("resource", "wrong")
    )
    assert response.status_code == 401
    make_client(app, "mobile", auth_method="none", secret=None)
    response = rp.http.post("/oauth2/introspect", data={"token": token, "client_id": "mobile"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "data",
    [{}, {"token": ""}, {"token": "x" * 20000}],
)
def test_introspection_bad_requests(rp, data):
    response = rp.http.post("/oauth2/introspect", data=data, headers=basic("resource"))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_introspection_of_unknown_tokens(rp):
    for token in ("unknown", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        assert rp.introspect(token).get_json() == {"active": False}


def test_introspection_of_a_client_credentials_token(rp):
    token = rp.http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic("resource")
    ).get_json()["access_token"]
    info = rp.introspect(token, client_id="resource").get_json()
    assert info["active"] is True and info["sub"] == "resource" and "acr" not in info


# ---- revocation


def test_revoking_an_access_token(rp):
    body = rp.tokens()
    response = rp.revoke(body["access_token"], token_type_hint="access_token")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert rp.userinfo(body["access_token"]).status_code == 401
    assert rp.introspect(body["access_token"]).get_json() == {"active": False}
    # The refresh token of the same grant still works: only that access token was revoked.
    assert rp.refresh(body["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_ends_its_grant(rp):
    body = rp.tokens(scope="openid offline_access")
    assert rp.revoke(body["refresh_token"]).status_code == 200
    assert rp.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.userinfo(body["access_token"]).status_code == 401


def test_revoking_unknown_or_repeated_tokens_is_fine(rp):
    body = rp.tokens()
    assert rp.revoke("never-issued").status_code == 200
    assert rp.revoke(body["access_token"]).status_code == 200
    assert rp.revoke(body["access_token"]).status_code == 200


def test_public_clients_revoke_their_own_tokens(app, rp):
    make_client(app, "mobile", auth_method="none", secret=None)
    mobile = RelyingParty(rp.http, "mobile", secret=None)
    flow = mobile.code_flow(pkce=True)
    body = mobile.exchange(flow).get_json()
    assert mobile.revoke(body["refresh_token"]).status_code == 200
    assert mobile.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_client_cannot_revoke_another_clients_token(app, rp):
    make_client(app, "portal")
    body = rp.tokens(scope="openid offline_access")
    response = RelyingParty(rp.http, "portal").revoke(body["refresh_token"])
    assert response.status_code == 400
    assert rp.refresh(body["refresh_token"]).status_code == 200


def test_revocation_bad_requests(rp):
    assert rp.revoke("").status_code == 400
    response = rp.http.post("/oauth2/revoke", data={"token": "x"})
    assert response.status_code == 401
    response = rp.http.post(
        "/oauth2/revoke",
        data="token=a&token=b",
        content_type="application/x-www-form-urlencoded",
        headers=basic("webmail", SECRET),
    )
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
