"""The authorization endpoint: error pages, consent, sign-in hand-over, acr, form_post."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.oidc_flow import EMAIL, ISSUER, REDIRECT_URI, RelyingParty, query_of
from helpers.pages import csrf_token, sign_out
from helpers.session_flow import age_sessions

NONCE = "n-0S6_WzA2Mj"


def page_error(response) -> str:
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def redirected(response) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(REDIRECT_URI)
    return query_of(response.headers["Location"])


# ---- requests that must never be redirected


def test_unknown_client_gets_a_page_in_vietnamese(rp):
    page = page_error(RelyingParty(rp.http, "nobody").authorize())
    assert "Ứng dụng không được phép đăng nhập" in page and "invalid_client" in page


def test_unknown_client_page_in_english_with_ui_locales(rp):
    page = page_error(RelyingParty(rp.http, "nobody").authorize(ui_locales="en"))
    assert '<html lang="en">' in page and "This application may not sign you in" in page


def test_disabled_client_is_treated_as_unknown(app, rp):
    make_client(app, "old", active=False)
    page = page_error(RelyingParty(rp.http, "old").authorize())
    assert "invalid_client" in page


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": None},
        {"client_id": ""},
        {"client_id": "x" * 500},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "https://rp.example/callback\nLocation: https://evil.example"},
    ],
)
def test_bad_client_or_redirect_never_redirects(rp, params):
    page_error(rp.authorize(**params))


def test_repeated_core_parameter_is_not_redirected(rp):
    response = rp.http.get(
        "/oauth2/authorize?response_type=code&client_id=webmail&client_id=webmail"
        f"&redirect_uri={REDIRECT_URI}&scope=openid"
    )
    page_error(response)


def test_client_without_the_code_grant_is_refused(app, rp):
    make_client(app, "machine", grant_types=["client_credentials"])
    rp.login()
    values = redirected(RelyingParty(rp.http, "machine").authorize())
    assert values["error"] == "unauthorized_client"


# ---- errors that go back to the client


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "jwt"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"max_age": "-5"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"claims": "[1, 2]"}, "invalid_request"),
        ({"claims": json.dumps({"userinfo": {"email": 5}})}, "invalid_request"),
        ({"claims": json.dumps({"id_token": {"acr": {"essential": "yes"}}})}, "invalid_request"),
        # An essential acr whose values are no level must not pass as no acr request.
        (
            {"claims": json.dumps({"id_token": {"acr": {"essential": True, "values": [{}]}}})},
            "invalid_request",
        ),
        (
            {"claims": json.dumps({"id_token": {"acr": {"essential": True, "value": None}}})},
            "invalid_request",
        ),
        (
            {"claims": json.dumps({"id_token": {"acr": {"essential": True, "values": []}}})},
            "invalid_request",
        ),
        ({"id_token_hint": "not.a.token"}, "invalid_request"),
        ({"nonce": "n" * 3000}, "invalid_request"),
        ({"state": "s" * 5000}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"request_uri": "urn:x"}, "request_uri_not_supported"),
    ],
)
def test_bad_parameters_are_answered_at_the_redirect_uri(rp, params, error):
    rp.login()
    values = redirected(rp.authorize(**{"state": "s1", **params}))
    assert values["error"] == error and values["iss"] == ISSUER
    if "state" not in params:
        assert values["state"] == "s1"
    for value in values.values():
        assert all(32 <= ord(c) < 127 for c in value)


def test_repeated_oidc_parameter_is_refused(rp):
    rp.login()
    response = rp.http.get(
        f"/oauth2/authorize?response_type=code&client_id=webmail&redirect_uri={REDIRECT_URI}"
        "&scope=openid&nonce=a&nonce=b"
    )
    assert redirected(response)["error"] == "invalid_request"


def test_unknown_scopes_are_dropped(rp):
    body = rp.tokens(scope="openid email calendar.admin")
    assert body["scope"] == "openid email"


# ---- sign-in hand-over


def test_not_signed_in_goes_to_sign_in_and_comes_back(rp):
    response = rp.authorize(state="s1", nonce=NONCE, ui_locales="en", login_hint=EMAIL)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    values = query_of(response.headers["Location"])
    assert values["login_hint"] == EMAIL and "force" not in values
    assert values["next"].startswith("/oauth2/authorize?") and "ui_locales=en" in values["next"]
    back = rp.sign_in_through(response)
    assert redirected(back)["state"] == "s1"


def test_prompt_login_reauthenticates_the_same_session(app, rp):
    first = rp.validate_id_token(rp.tokens()["id_token"], nonce=NONCE)
    response = rp.authorize(prompt="login", nonce=NONCE)
    code = query_of(rp.sign_in_through(response).headers["Location"])["code"]
    second = rp.validate_id_token(rp.exchange_code(code)["id_token"], nonce=NONCE)
    assert second["sid"] == first["sid"]


def test_a_forged_login_ticket_does_not_skip_sign_in(rp):
    rp.login()
    response = rp.authorize(prompt="login", login_ticket="forged.ticket.value")
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_select_account_is_treated_as_login(rp):
    rp.login()
    response = rp.authorize(prompt="select_account")
    assert query_of(response.headers["Location"])["force"] == "1"


def test_id_token_hint_for_another_user(app, rp, make_user):
    first = rp.tokens()["id_token"]
    make_user("tran.thi.binh@haugiang.gov.vn", given_name="Bình")
    sign_out(rp.http)
    rp.login("tran.thi.binh@haugiang.gov.vn")
    values = redirected(rp.authorize(prompt="none", id_token_hint=first))
    assert values["error"] == "login_required"
    response = rp.authorize(id_token_hint=first)
    assert query_of(response.headers["Location"])["force"] == "1"


def test_prompt_none_with_expired_max_age_is_login_required(app, rp):

    rp.login()
    age_sessions(app, 100)
    assert redirected(rp.authorize(prompt="none", max_age="10"))["error"] == "login_required"


# ---- acr


@pytest.mark.parametrize("app_config", [{"ACR_VALUES_SUPPORTED": ["urn:hg:loa:1"]}])
def test_essential_acr_that_cannot_be_met(rp):
    # Second factors switched off (only urn:hg:loa:1 performed): an essential level 2 fails.
    rp.login()
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:hg:loa:2"]}}})
    values = redirected(rp.authorize(claims=claims))
    assert values["error"] == "unmet_authentication_requirements"


def test_voluntary_acr_that_cannot_be_met_gets_what_there_is(rp):
    body = rp.tokens(acr_values="urn:hg:loa:2")
    assert rp.validate_id_token(body["id_token"], nonce=NONCE)["acr"] == "urn:hg:loa:1"


def test_essential_acr_that_is_met(rp):
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:hg:loa:1"]}}})
    body = rp.tokens(claims=claims)
    assert rp.validate_id_token(body["id_token"], nonce=NONCE)["acr"] == "urn:hg:loa:1"


def test_step_up_of_a_person_without_a_factor(rp):
    """acr_values is voluntary (OIDC Core 3.1.2.1): who has no second factor is not sent
    anywhere and gets level 1; an essential acr claim takes them through enrolment (the
    step-up tests are in tests/oidc/test_step_up.py)."""
    rp.login()
    assert "code" in redirected(rp.authorize(acr_values="urn:hg:loa:2"))
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:hg:loa:2"]}}})
    response = rp.authorize(claims=claims)
    values = query_of(response.headers["Location"])
    assert values["acr"] == "urn:hg:loa:2" and values["step_up"] == "1"
    assert values["enrol"] == "1"


# ---- consent


@pytest.fixture
def third_party(app, rp):
    make_client(app, "outside", first_party=False, client_name="Cổng dữ liệu mở")
    return RelyingParty(rp.http, "outside")


def test_first_party_clients_skip_consent(rp):
    rp.login()
    assert "code" in redirected(rp.authorize(scope="openid email"))


def test_consent_page_lists_what_the_app_receives(third_party, rp):
    rp.login()
    response = third_party.authorize(scope="openid email org offline_access")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Cổng dữ liệu mở muốn truy cập tài khoản của bạn" in page
    for sentence in (
        "Xem địa chỉ thư điện tử công vụ của bạn.",
        "Xem đơn vị công tác, chức danh và vai trò của bạn.",
        "Tiếp tục truy cập khi bạn không đăng nhập",
    ):
        assert sentence in page
    assert response.headers["Cache-Control"] == "no-store"


def test_consent_page_shows_the_registered_logo_policy_and_terms(app, rp):
    """oidcc-registration-logo-uri / -policy-uri / -tos-uri: shown to the person."""
    make_client(
        app,
        "with-links",
        first_party=False,
        client_name="Ứng dụng có biểu trưng",
        logo_uri="https://rp.example.org/logo.png",
        policy_uri="https://rp.example.org/privacy",
        tos_uri="https://rp.example.org/terms",
        client_uri="javascript:alert(1)",
    )
    rp.login()
    response = RelyingParty(rp.http, "with-links").authorize(scope="openid")
    page = response.get_data(as_text=True)
    assert 'src="https://rp.example.org/logo.png"' in page
    assert 'href="https://rp.example.org/privacy"' in page
    assert 'href="https://rp.example.org/terms"' in page
    assert "javascript:" not in page
    csp = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://rp.example.org;" in csp
    assert "frame-ancestors 'none'" in csp


def test_consent_page_without_a_logo_allows_no_other_images(third_party, rp):
    rp.login()
    response = third_party.authorize(scope="openid email")
    assert "img-src 'self' data:;" in response.headers["Content-Security-Policy"]


def test_consent_page_in_english(third_party, rp):
    rp.login()
    page = third_party.authorize(scope="openid email", ui_locales="en").get_data(as_text=True)
    assert "See your official e-mail address." in page and '<html lang="en">' in page


def test_consent_is_remembered_and_a_superset_asks_again(third_party, rp):
    body = third_party.tokens(scope="openid email")
    assert body["scope"] == "openid email"
    rp.login()
    again = third_party.authorize(scope="email openid", nonce=NONCE)
    assert "code" in redirected(again)
    more = third_party.authorize(scope="openid email phone")
    assert more.status_code == 200 and 'name="consent_action"' in more.get_data(as_text=True)


def test_denied_consent_is_access_denied(third_party, rp):
    rp.login()
    response = third_party.consent(third_party.authorize(state="d1"), action="deny")
    values = redirected(response)
    assert values["error"] == "access_denied" and values["state"] == "d1"


def test_consent_without_its_csrf_token_is_refused(third_party, rp):
    rp.login()
    response = rp.http.post(
        "/oauth2/authorize",
        data={
            "response_type": "code",
            "client_id": "outside",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "consent_action": "allow",
        },
    )
    assert response.status_code == 400 and 'name="consent_action"' in response.get_data(
        as_text=True
    )


def test_prompt_none_needing_consent_is_consent_required(third_party, rp):
    rp.login()
    assert redirected(third_party.authorize(prompt="none"))["error"] == "consent_required"


def test_prompt_consent_asks_even_first_party_clients(rp):
    rp.login()
    response = rp.authorize(prompt="consent")
    assert response.status_code == 200 and 'name="consent_action"' in response.get_data(
        as_text=True
    )


def test_consent_is_withdrawn_from_the_account_page(third_party, rp):
    body = third_party.tokens(scope="openid email offline_access")
    page = rp.http.get("/account/").get_data(as_text=True)
    assert "Ứng dụng bạn đã cho phép" in page and "Cổng dữ liệu mở" in page
    token = csrf_token(page)
    response = rp.http.post(
        "/account/apps/withdraw", data={"client_id": "outside", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "Cổng dữ liệu mở" not in granted_apps_section(rp)
    assert third_party.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert rp.introspect(body["access_token"]).get_json()["active"] is False
    asked = third_party.authorize(scope="openid email")
    assert 'name="consent_action"' in asked.get_data(as_text=True)


def test_withdrawal_needs_the_csrf_token(third_party, rp):
    third_party.tokens(scope="openid email")
    response = rp.http.post("/account/apps/withdraw", data={"client_id": "outside"})
    assert response.status_code == 400
    assert "Cổng dữ liệu mở" in granted_apps_section(rp)


# ---- response delivery and bookkeeping


def test_form_post_response_mode(rp):
    rp.login()
    response = rp.authorize(response_mode="form_post", state="fp", nonce=NONCE)
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'action="{REDIRECT_URI}"' in page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert set(fields) == {"code", "state", "iss"} and fields["state"] == "fp"
    assert fields["iss"] == ISSUER
    assert "form-action https://rp.example;" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    body = rp.exchange_code(fields["code"])
    rp.validate_id_token(body["id_token"], nonce=NONCE)


def test_form_post_errors_are_posted_too(rp):
    response = rp.authorize(response_mode="form_post", prompt="none", state="e1")
    page = response.get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert fields["error"] == "login_required" and fields["state"] == "e1"


def test_form_post_needs_an_http_redirect_uri(app, rp):
    make_client(app, "app", redirect_uris=["vn.gov.haugiang.app:/cb"])
    rp.login()
    response = RelyingParty(rp.http, "app").authorize(
        redirect_uri="vn.gov.haugiang.app:/cb", response_mode="form_post"
    )
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_clients_receiving_id_tokens_are_recorded_with_the_session(app, rp):
    from idp.extensions import db
    from idp.oidc import store
    from idp.sessions.models import SsoSession

    make_client(app, "portal")
    rp.tokens()
    RelyingParty(rp.http, "portal").tokens()
    rp.tokens()
    with app.app_context():
        sso = db.session.execute(sa.select(SsoSession)).scalar_one()
        recorded = store.clients_of_session(sso.id)
        assert sorted(r.client_id for r in recorded) == ["portal", "webmail"]
        assert all(r.last_at >= r.first_at for r in recorded)


def test_plain_oauth_requests_record_no_session_client(app, rp):
    from idp.extensions import db
    from idp.sessions.models import SessionClient

    rp.tokens(scope="email")
    with app.app_context():
        assert db.session.execute(sa.select(SessionClient)).first() is None


def granted_apps_section(rp) -> str:
    """The account page's "Ứng dụng bạn đã cho phép" (an application signed in to through a
    live session stays listed above it, marked "đã thu hồi quyền", once consent is withdrawn)."""
    page = rp.http.get("/account/").get_data(as_text=True)
    start = page.index('<h3 id="allowed-apps-title">')
    end = page.find("<h2", start + 1)
    return page[start : end if end > 0 else len(page)]


# ---- registered defaults (OpenID Connect Dynamic Client Registration 2)


def test_default_acr_values_apply_when_the_request_names_none(app, rp):
    from helpers.factors import enrol

    make_client(app, "docs", default_acr_values=["urn:hg:loa:2"])
    rp.login()
    enrol(app)  # after signing in: the session is at level 1, the person can step up
    response = RelyingParty(rp.http, "docs").authorize()
    values = query_of(response.headers["Location"])
    assert values["acr"] == "urn:hg:loa:2" and values["step_up"] == "1"
    # A request's own acr_values take precedence over the registered default.
    response = RelyingParty(rp.http, "docs").authorize(acr_values="urn:hg:loa:1")
    assert "code" in redirected(response)


def test_default_max_age_applies_when_the_request_has_none(app, rp):
    make_client(app, "docs", default_max_age=60)
    rp.login()
    docs = RelyingParty(rp.http, "docs")
    assert "code" in redirected(docs.authorize())
    age_sessions(app, 120)
    assert query_of(docs.authorize().headers["Location"])["force"] == "1"
    assert "code" in redirected(docs.authorize(max_age="3600"))


def test_consent_page_names_the_app_in_the_page_language(app, rp):
    make_client(
        app,
        "open-data",
        first_party=False,
        client_name="Cổng dữ liệu mở",
        **{"client_name#en": "Open data portal"},
    )
    rp.login()
    party = RelyingParty(rp.http, "open-data")
    assert "Cổng dữ liệu mở muốn" in party.authorize().get_data(as_text=True)
    english = party.authorize(ui_locales="en").get_data(as_text=True)
    assert "Open data portal wants to access your account" in english


def test_code_exchange_after_sign_out_is_refused(rp):
    flow = rp.code_flow()
    sign_out(rp.http)
    assert rp.exchange(flow).get_json()["error"] == "invalid_grant"
