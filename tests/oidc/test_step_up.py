"""Levels of assurance and step-up (OIDC Core 3.1.2.1, 5.5.1.1; RFC 8176): a relying party
asking for the second-factor level gets the person asked only for what is missing, in the
same SSO session; the ID token's acr and amr say what was performed, never more."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.factors import code_for, enrol, give_code, recovery_codes_on_page, secret_on_page
from helpers.oidc_flow import REDIRECT_URI, Flow, RelyingParty, query_of
from helpers.pages import sign_in
from helpers.people import EMAIL

NONCE = "n-0S6_WzA2Mj"
LOA1, LOA2 = "urn:hg:loa:1", "urn:hg:loa:2"
ESSENTIAL_LOA2 = json.dumps({"id_token": {"acr": {"essential": True, "values": [LOA2]}}})


def follow_to_code(rp: RelyingParty, response) -> Flow:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    values = query_of(location)
    assert "code" in values, values
    return Flow(values["code"], values.get("state"), NONCE, None, values)


def id_token_of(rp: RelyingParty, flow: Flow) -> dict:
    body = rp.exchange(flow).get_json()
    return rp.validate_id_token(body["id_token"], nonce=NONCE)


def step_up(rp: RelyingParty, response, code: str):
    """From the authorization endpoint's redirect to the sign-in page: the factor page only
    (no password), the code, and back to the authorization endpoint."""
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login" and query_of(location)["step_up"] == "1"
    to_factor = rp.http.get(location)
    assert to_factor.status_code == 302 and to_factor.headers["Location"] == "/login/factor"
    page = rp.http.get("/login/factor").get_data(as_text=True)
    assert 'name="password"' not in page and "không cần nhập lại mật khẩu" in page
    back = give_code(rp.http, code)
    assert back.status_code == 302 and back.headers["Location"].startswith("/oauth2/authorize")
    return rp.http.get(back.headers["Location"])


def test_discovery_lists_the_levels(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["acr_values_supported"] == [LOA1, LOA2, "urn:hg:loa:3"]
    assert "acr" in metadata["claims_supported"]


def test_a_password_only_session_claims_level_one_and_pwd(rp):
    claims = id_token_of(rp, rp.code_flow(nonce=NONCE))
    assert claims["acr"] == LOA1 and claims["amr"] == ["pwd"]


def test_step_up_asks_only_for_the_second_factor_in_the_same_session(app, rp):
    first = id_token_of(rp, rp.code_flow(nonce=NONCE))
    secret, _ = enrol(app)
    response = rp.authorize(nonce=NONCE, state="s", acr_values=LOA2)
    flow = follow_to_code(rp, step_up(rp, response, code_for(secret)))
    claims = id_token_of(rp, flow)
    assert claims["acr"] == LOA2 and claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"] == first["sid"]
    assert claims["auth_time"] >= first["auth_time"]
    # The session now has the level: the next request is an SSO hop.
    hop = follow_to_code(rp, rp.authorize(nonce=NONCE, acr_values=LOA2))
    assert id_token_of(rp, hop)["acr"] == LOA2


def test_an_essential_acr_claim_steps_up_the_same_way(app, rp):
    rp.login()
    secret, _ = enrol(app)
    response = rp.authorize(nonce=NONCE, claims=ESSENTIAL_LOA2)
    claims = id_token_of(rp, follow_to_code(rp, step_up(rp, response, code_for(secret))))
    assert claims["acr"] == LOA2


def test_a_wrong_code_at_step_up_leaves_the_session_at_level_one(app, rp):
    rp.login()
    secret, _ = enrol(app)
    response = rp.authorize(nonce=NONCE, acr_values=LOA2)
    rp.http.get(response.headers["Location"])
    wrong = "000000" if code_for(secret) != "000000" else "111111"
    assert give_code(rp.http, wrong).status_code == 401
    # Going straight back to the authorization endpoint: asked again, not given level 2.
    again = rp.authorize(nonce=NONCE, acr_values=LOA2)
    assert query_of(again.headers["Location"])["step_up"] == "1"
    # A voluntary request without acr_values gets what the session has: level 1.
    assert id_token_of(rp, follow_to_code(rp, rp.authorize(nonce=NONCE)))["acr"] == LOA1


def test_voluntary_level_two_for_a_person_without_a_factor_gives_level_one(rp):
    claims = id_token_of(rp, rp.code_flow(nonce=NONCE, acr_values=LOA2))
    assert claims["acr"] == LOA1 and claims["amr"] == ["pwd"]


def test_prompt_none_cannot_step_up(app, rp):
    rp.login()
    enrol(app)
    response = rp.authorize(nonce=NONCE, acr_values=LOA2, prompt="none")
    assert query_of(response.headers["Location"])["error"] == "login_required"


def test_an_essential_level_enrols_a_person_who_has_no_factor(app, rp):
    rp.login()
    response = rp.authorize(nonce=NONCE, claims=ESSENTIAL_LOA2)
    location = response.headers["Location"]
    assert query_of(location)["enrol"] == "1"
    assert rp.http.get(location).headers["Location"] == "/login/factor"
    page = rp.http.get("/login/factor").get_data(as_text=True)
    secret = secret_on_page(page)
    done = give_code(rp.http, code_for(secret))
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and len(recovery_codes_on_page(html)) == 10
    back = html.split('id="continue" href="')[1].split('"')[0].replace("&amp;", "&")
    claims = id_token_of(rp, follow_to_code(rp, rp.http.get(back)))
    assert claims["acr"] == LOA2 and claims["amr"] == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize("app_config", [{"MFA_REQUIRED_CLIENTS": ["docs"]}])
def test_a_client_that_always_requires_the_level(app, rp):
    """Document management signs documents: every sign-in to it has a second factor, even
    when its request asks for nothing."""
    make_client(app, "docs")
    docs = RelyingParty(rp.http, "docs")
    secret, _ = enrol(app)
    response = docs.authorize(nonce=NONCE)
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login" and query_of(location)["enrol"] == "1"
    signed = sign_in(rp.http, next=query_of(location)["next"], enrol="1")
    assert signed.headers["Location"] == "/login/factor"
    back = give_code(rp.http, code_for(secret))
    claims = id_token_of(docs, follow_to_code(docs, rp.http.get(back.headers["Location"])))
    assert claims["acr"] == LOA2
    # The same session still gives webmail what it is (level 2 was performed).
    assert id_token_of(rp, follow_to_code(rp, rp.authorize(nonce=NONCE)))["acr"] == LOA2


@pytest.mark.parametrize("app_config", [{"MFA_REQUIRED_CLIENTS": ["docs"]}])
def test_a_required_level_an_existing_session_lacks_is_stepped_up(app, rp):
    make_client(app, "docs")
    rp.login()
    secret, _ = enrol(app)
    docs = RelyingParty(rp.http, "docs")
    response = docs.authorize(nonce=NONCE)
    claims = id_token_of(docs, follow_to_code(docs, step_up(docs, response, code_for(secret))))
    assert claims["acr"] == LOA2


@pytest.mark.parametrize("app_config", [{"MFA_REQUIRED_ROLES": ["admin"]}])
def test_an_administrator_always_signs_in_with_a_second_factor(app, make_user):
    make_user("admin@haugiang.gov.vn", roles=["admin"])
    make_client(app, "webmail")
    rp = RelyingParty(app.test_client())
    response = rp.authorize(nonce=NONCE)
    signed = sign_in(
        rp.http, "admin@haugiang.gov.vn", next=query_of(response.headers["Location"])["next"]
    )
    assert signed.headers["Location"] == "/login/factor"
    # Taken through enrolment: no way around it to the authorization endpoint.
    skipped = rp.authorize(nonce=NONCE)
    assert urlsplit(skipped.headers["Location"]).path == "/login"


def move_method_back(app, method: str, seconds: int) -> None:
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        for sso in db.session.execute(sa.select(SsoSession)).scalars():
            times = dict(sso.auth_times)
            times[method] -= seconds
            sso.auth_times = times
        db.session.commit()


def test_max_age_on_the_second_level_asks_for_the_factor_again(app, rp):
    rp.login()
    secret, _ = enrol(app)
    step_up(rp, rp.authorize(nonce=NONCE, acr_values=LOA2), code_for(secret))
    move_method_back(app, "otp", 120)
    # The password level is fresh enough: only the factor is asked again.
    response = rp.authorize(nonce=NONCE, acr_values=LOA2, max_age="60")
    values = query_of(response.headers["Location"])
    assert values["step_up"] == "1" and values["force"] == "1"
    # The next time step's code (one step of drift allowed): the last one is spent.
    claims = id_token_of(rp, follow_to_code(rp, step_up(rp, response, code_for(secret, 30))))
    assert claims["acr"] == LOA2


def test_max_age_on_the_password_asks_for_everything(app, rp):
    rp.login()
    move_method_back(app, "pwd", 120)
    response = rp.authorize(nonce=NONCE, max_age="60")
    values = query_of(response.headers["Location"])
    assert values["force"] == "1" and "step_up" not in values


def test_the_factor_page_cannot_be_skipped(app, rp):
    """A pending sign-in is no session: straight to /authorize asks for signing in."""
    enrol(app)
    response = rp.authorize(nonce=NONCE)
    rp.login(next_url=query_of(response.headers["Location"])["next"])
    again = rp.authorize(nonce=NONCE)
    assert urlsplit(again.headers["Location"]).path == "/login"


def test_a_stale_factor_that_was_removed_gives_the_password_level_without_a_loop(app, rp):
    from idp.directory.store import find_user_by_address
    from idp.extensions import db
    from idp.factors import service

    rp.login()
    secret, _ = enrol(app)
    step_up(rp, rp.authorize(nonce=NONCE, acr_values=LOA2), code_for(secret))
    with app.test_request_context():
        service.remove_totp(find_user_by_address(EMAIL), datetime.now(UTC), {})
        db.session.commit()
    move_method_back(app, "otp", 120)
    claims = id_token_of(rp, follow_to_code(rp, rp.authorize(nonce=NONCE, max_age="60")))
    assert claims["acr"] == LOA1 and "otp" in claims["amr"]
    # An essential level 2 now means enrolling again.
    response = rp.authorize(nonce=NONCE, max_age="60", claims=ESSENTIAL_LOA2)
    assert query_of(response.headers["Location"])["enrol"] == "1"
