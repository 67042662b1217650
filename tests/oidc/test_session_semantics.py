"""Single sign-on session semantics at the authorization and token endpoints.

prompt=none answers login_required once the session has ended, however it ended;
prompt=login and max_age ask for the password again but keep the same SSO session:
same `sid`, new `auth_time`, and still one session for logout to end.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers.logout_flow import LOGOUT_TEST_CONFIG, deliveries, end_session, set_metadata
from helpers.oidc_flow import EMAIL, REDIRECT_URI, query_of
from helpers.pages import csrf_of, sign_out
from helpers.session_flow import age_sessions

NONCE = "n-0S6_WzA2Mj"


@pytest.fixture
def app_config():
    return dict(LOGOUT_TEST_CONFIG)


def _session_rows(app) -> list[tuple[str, object]]:
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        return [(s.sid, s.ended_at) for s in db.session.execute(sa.select(SsoSession)).scalars()]


def _login_required(rp) -> bool:
    response = rp.authorize(prompt="none", state="after")
    location = response.headers["Location"]
    return location.startswith(REDIRECT_URI) and query_of(location).get("error") == "login_required"


def test_prompt_none_after_the_sign_out_page(rp):
    rp.tokens()
    assert not _login_required(rp)
    sign_out(rp.http)
    assert _login_required(rp)


def test_prompt_none_after_rp_initiated_logout(rp):
    end_session(rp.http, id_token_hint=rp.tokens()["id_token"])
    assert _login_required(rp)


def test_prompt_none_after_the_account_page_ended_every_session(rp):
    rp.tokens()
    rp.http.post("/account/sessions/end-all", data={"csrf_token": csrf_of(rp.http, "/account/")})
    assert _login_required(rp)


def test_prompt_none_after_an_administrator_ended_the_sessions(app, rp):
    rp.tokens()
    result = app.test_cli_runner().invoke(args=["sessions", "revoke", "--user", EMAIL])
    assert result.exit_code == 0, result.output
    assert _login_required(rp)


@pytest.mark.parametrize("params", [{"prompt": "login"}, {"max_age": "30"}])
def test_fresh_sign_in_keeps_the_same_session(app, rp, params):
    set_metadata(app, "webmail", backchannel_logout_uri="http://127.0.0.1:9/bcl")
    first = rp.validate_id_token(rp.tokens()["id_token"], nonce=NONCE)
    age_sessions(app, 60)
    response = rp.authorize(nonce=NONCE, **params)
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert query_of(response.headers["Location"])["force"] == "1"
    back = rp.sign_in_through(response)
    code = query_of(back.headers["Location"])["code"]
    second = rp.validate_id_token(rp.exchange_code(code)["id_token"], nonce=NONCE)
    # The session's auth_time had been moved 60 s back: the new one is of this sign-in.
    assert second["auth_time"] >= first["auth_time"]
    assert second["sid"] == first["sid"] and second["sub"] == first["sub"]
    assert [sid for sid, _ended in _session_rows(app)] == [first["sid"]]
    # The next request without a reason to ask again proceeds with the new auth_time.
    third = rp.validate_id_token(rp.tokens()["id_token"], nonce=NONCE)
    assert third["auth_time"] == second["auth_time"]
    # One session, one client: one back-channel notice at sign-out.
    end_session(rp.http, id_token_hint=rp.tokens()["id_token"])
    assert [(r["client_id"], r["sid"]) for r in deliveries(app)] == [("webmail", first["sid"])]
