"""Attacks on a passkey as the second factor (the factor page, docs/factors.md and
docs/passkeys.md), each refused with no session given:

- someone else's passkey assertion offered to finish my pending sign-in (or an assertion of
  my passkey made for another person's ceremony);
- a factor-step assertion replayed, in the same browser or with an older copy of its page
  session, or at once by two requests;
- skipping the factor page (straight to the account page, the authorization endpoint, or
  the passkey-alone endpoint with a factor-step answer);
- adding a passkey beside an existing factor with only a password (the enrolment
  endpoints of a pending sign-in);
- the pending sign-in carried to another browser.
"""

from __future__ import annotations

import pytest
from helpers.authenticator import Authenticator
from helpers.db import count_rows
from helpers.factors import enrol as enrol_totp
from helpers.pages import csrf_of, sign_in
from helpers.passkeys import enrol, factor_options, post_json
from helpers.session_flow import signed_in_browser

from idp.passkeys.models import Passkey
from idp.security import PAGE_SESSION_COOKIE
from idp.sessions.models import SsoSession

BINH = "tran.thi.binh@haugiang.gov.vn"


def _with_passkey(app, email: str) -> Authenticator:
    key = Authenticator()
    assert enrol(signed_in_browser(app, email), key).status_code == 200
    return key


@pytest.fixture
def people(app, make_user):
    """An and Bình, each with a passkey of their own (An's on `an`, Bình's on `binh`)."""
    make_user()
    make_user(BINH)
    return _with_passkey(app, "nguyen.van.an@haugiang.gov.vn"), _with_passkey(app, BINH)


def _pending(app, email: str = "nguyen.van.an@haugiang.gov.vn"):
    """A browser whose password was right: waiting on the factor page."""
    http = app.test_client()
    response = sign_in(http, email)
    assert response.headers["Location"] == "/login/factor"
    return http


def _options(http):
    csrf = csrf_of(http, "/login/factor")
    response = factor_options(http, csrf)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["publicKey"], csrf


def _answer(http, credential, csrf):
    return post_json(http, "/login/factor/passkey", {"credential": credential}, csrf)


def _signed_in(http) -> bool:
    return http.get("/account/").status_code == 200


def _sessions(app) -> int:
    return count_rows(app, SsoSession)


def test_someone_elses_passkey_does_not_finish_my_pending_sign_in(app, people):
    an_key, binh_key = people
    sessions = _sessions(app)
    attacker = _pending(app)  # An's password, Bình's passkey
    options, csrf = _options(attacker)
    # Only An's passkeys are listed; Bình's authenticator answers all the same.
    assert [c["id"] for c in options["allowCredentials"]] == [an_key.only().id]
    answer = binh_key.get(options, credential=binh_key.only())
    refused = _answer(attacker, answer, csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "unknown_credential"
    assert not _signed_in(attacker) and _sessions(app) == sessions


def test_my_passkey_answer_to_someone_elses_ceremony_is_refused(app, people):
    an_key, _binh_key = people
    binh = _pending(app, BINH)
    binh_options, _ = _options(binh)
    attacker = _pending(app)
    _, csrf = _options(attacker)
    # An's own pending sign-in, answered with an assertion made for Bình's challenge.
    refused = _answer(attacker, an_key.get({**binh_options, "allowCredentials": []}), csrf)
    assert refused.status_code == 400
    assert not _signed_in(attacker) and not _signed_in(binh)


def test_a_factor_step_answer_is_good_once(app, people):
    an_key, _ = people
    http = _pending(app)
    options, csrf = _options(http)
    cookie_before = http.get_cookie(PAGE_SESSION_COOKIE).value
    pending_cookie = http.get_cookie("idp_pending").value
    answer = an_key.get(options)
    assert _answer(http, answer, csrf).status_code == 200
    sessions = _sessions(app)
    # Another browser, with the same pending handle and the old page session (copied
    # cookies), posting the same signed answer: the pending sign-in is finished, and the
    # challenge was answered.
    thief = app.test_client()
    thief.set_cookie(PAGE_SESSION_COOKIE, cookie_before)
    thief.set_cookie("idp_pending", pending_cookie)
    again = _answer(thief, answer, csrf)
    assert again.status_code == 401 and again.get_json()["reason"] == "gone"
    assert not _signed_in(thief) and _sessions(app) == sessions


def test_a_replayed_answer_in_a_new_pending_sign_in_is_refused(app, people):
    an_key, _ = people
    http = _pending(app)
    options, csrf = _options(http)
    cookie_before = http.get_cookie(PAGE_SESSION_COOKIE).value
    answer = an_key.get(options)
    assert _answer(http, answer, csrf).status_code == 200
    # Someone who saw the answer and knows the password: a new pending sign-in, the old
    # page session (whose ceremony has that challenge), the same answer.
    thief = _pending(app)
    thief.set_cookie(PAGE_SESSION_COOKIE, cookie_before)
    csrf = csrf_of(thief, "/login/factor")
    replayed = _answer(thief, answer, csrf)
    assert replayed.status_code == 400
    assert replayed.get_json()["reason"] == "replayed"
    assert not _signed_in(thief)


def test_refused_answers_count_on_the_pending_sign_in(app, people):
    _, binh_key = people
    http = _pending(app)
    for _attempt in range(app.config["FACTOR_MAX_ATTEMPTS"] - 1):
        options, csrf = _options(http)
        answer = binh_key.get(options, credential=binh_key.only())
        assert _answer(http, answer, csrf).status_code == 400
    options, csrf = _options(http)
    last = _answer(http, binh_key.get(options, credential=binh_key.only()), csrf)
    assert last.status_code == 401 and last.get_json()["reason"] == "locked"
    # Dead: even the right passkey does nothing now; the password must be typed again.
    assert factor_options(http, csrf).status_code == 401


def test_skipping_the_factor_page_gives_no_session(app, people):
    an_key, _ = people
    http = _pending(app)
    options, csrf = _options(http)
    assert not _signed_in(http)
    # A factor-step answer is not a passkey-alone sign-in (another kind of ceremony).
    alone = post_json(http, "/login/passkey", {"credential": an_key.get(options)}, csrf)
    assert alone.status_code == 400 and alone.get_json()["reason"] == "expired"
    assert not _signed_in(http)


def test_no_pending_sign_in_no_ceremony(app, people):
    stranger = app.test_client()
    csrf = csrf_of(stranger, "/login")
    assert post_json(stranger, "/login/factor/passkey/options", {}, csrf).status_code == 401
    assert post_json(stranger, "/login/factor/passkey", {}, csrf).status_code == 401


def test_a_pending_sign_in_carried_to_another_browser_needs_its_own_ceremony(app, people):
    an_key, _ = people
    victim = _pending(app)
    options, _ = _options(victim)
    attacker = app.test_client()
    attacker.set_cookie("idp_pending", victim.get_cookie("idp_pending").value)
    csrf = csrf_of(attacker, "/login")
    # The victim's answer, posted by the attacker: the ceremony is in the victim's page
    # session, not the attacker's.
    refused = _answer(attacker, an_key.get(options), csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "expired"
    assert not _signed_in(attacker)


def test_a_password_alone_cannot_add_a_passkey_beside_a_factor(app, make_user):
    make_user()
    enrol_totp(app)
    http = _pending(app)  # the password of someone with an authenticator app
    csrf = csrf_of(http, "/login/factor")
    options = post_json(http, "/login/factor/passkey/new/options", {}, csrf)
    assert options.status_code == 409
    body = {"credential": {"id": "x", "type": "public-key"}}
    assert post_json(http, "/login/factor/passkey/new", body, csrf).status_code == 409
    assert count_rows(app, Passkey) == 0
    # The pending sign-in is still there, waiting for the authenticator app's code.
    assert 'name="code"' in http.get("/login/factor").get_data(as_text=True)
