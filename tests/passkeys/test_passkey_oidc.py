"""A relying party gets what a passkey sign-in proved: the ID token's acr is the
phishing-resistant level and its amr the passkey's (RFC 8176; a passkey with user
verification is two factors, so `mfa` too), also when the relying party asked for that
level while the person was signed in with a password (step-up: the factor page asks for a
passkey only, no password)."""

from __future__ import annotations

from helpers.authenticator import Authenticator
from helpers.factors import enrol as enrol_totp
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.passkeys import enrol, factor_passkey, passkey_sign_in
from helpers.session_flow import signed_in_browser

NONCE = "n-passkey"
LOA3 = "urn:hg:loa:3"


def _code_after_passkey(rp: RelyingParty, key: Authenticator, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert location.startswith("/login?"), location
    signed = passkey_sign_in(rp.http, key, next=query_of(location)["next"])
    assert signed.status_code == 200, signed.get_data(as_text=True)
    back = signed.get_json()["redirect"]
    assert back.startswith("/oauth2/authorize?"), back
    answer = rp.http.get(back)
    assert answer.headers["Location"].startswith(REDIRECT_URI), answer.headers["Location"]
    return query_of(answer.headers["Location"])["code"]


def _enrolled_key(app) -> Authenticator:
    key = Authenticator()
    assert enrol(signed_in_browser(app), key).status_code == 200
    return key


def test_the_id_token_of_a_passkey_sign_in(app, rp, client):
    key = _enrolled_key(app)
    relying_party = RelyingParty(client)
    code = _code_after_passkey(relying_party, key, relying_party.authorize(nonce=NONCE))
    body = relying_party.exchange_code(code)
    claims = relying_party.validate_id_token(body["id_token"], nonce=NONCE)
    assert claims["acr"] == LOA3 and claims["amr"] == ["hwk", "user", "mfa"]


def test_step_up_to_the_phishing_resistant_level_with_a_passkey(app, rp, client):
    relying_party = RelyingParty(client)
    relying_party.login()
    first = relying_party.code_flow()
    claims = relying_party.validate_id_token(
        relying_party.exchange(first).get_json()["id_token"], nonce=first.nonce
    )
    assert claims["acr"] == "urn:hg:loa:1" and claims["amr"] == ["pwd"]
    # Since then: a passkey and an authenticator app; still, only the passkey is asked for.
    key = _enrolled_key(app)
    enrol_totp(app)
    # Document signing asks for more: the factor page, no password, a passkey only.
    response = relying_party.authorize(nonce=NONCE, acr_values=LOA3)
    location = response.headers["Location"]
    assert query_of(location)["step_up"] == "1" and query_of(location)["acr"] == LOA3
    to_factor = relying_party.http.get(location)
    assert to_factor.headers["Location"] == "/login/factor"
    page = relying_party.http.get("/login/factor").get_data(as_text=True)
    assert 'id="passkey-factor"' in page
    assert 'name="code"' not in page and 'name="password"' not in page
    done = factor_passkey(relying_party.http, key)
    assert done.status_code == 200, done.get_data(as_text=True)
    back = relying_party.http.get(done.get_json()["redirect"])
    assert back.headers["Location"].startswith(REDIRECT_URI), back.headers["Location"]
    code = query_of(back.headers["Location"])["code"]
    stepped = relying_party.validate_id_token(
        relying_party.exchange_code(code)["id_token"], nonce=NONCE
    )
    # The same SSO session, with what was done in it: the password, then the passkey.
    assert stepped["sid"] == claims["sid"]
    assert stepped["acr"] == LOA3 and stepped["amr"] == ["pwd", "hwk", "user", "mfa"]


def test_step_up_to_level_two_offers_a_passkey_or_a_code(app, rp, client):
    relying_party = RelyingParty(client)
    relying_party.login()
    relying_party.exchange(relying_party.code_flow())
    _enrolled_key(app)
    enrol_totp(app)
    response = relying_party.authorize(nonce=NONCE, acr_values="urn:hg:loa:2")
    relying_party.http.get(response.headers["Location"])
    page = relying_party.http.get("/login/factor").get_data(as_text=True)
    assert 'id="passkey-factor"' in page and 'name="code"' in page


def test_a_code_is_refused_where_only_a_passkey_reaches_the_level(app, rp, client):
    from helpers.factors import code_for, give_code

    relying_party = RelyingParty(client)
    relying_party.login()
    relying_party.exchange(relying_party.code_flow())
    _enrolled_key(app)
    secret, _codes = enrol_totp(app)
    response = relying_party.authorize(nonce=NONCE, acr_values=LOA3)
    relying_party.http.get(response.headers["Location"])
    answer = give_code(relying_party.http, code_for(secret))
    assert answer.status_code == 400
    assert 'id="passkey-factor"' in answer.get_data(as_text=True)


def test_max_age_counts_a_passkey_sign_in_as_the_first_factor(app, rp, client):
    """A session signed in with a passkey alone has no password time: max_age reads the
    passkey's, so a recent passkey sign-in is an SSO hop, not a new sign-in."""
    key = _enrolled_key(app)
    relying_party = RelyingParty(client)
    _code_after_passkey(relying_party, key, relying_party.authorize(nonce=NONCE))
    hop = relying_party.authorize(nonce=NONCE, max_age="600")
    assert hop.headers["Location"].startswith(REDIRECT_URI), hop.headers["Location"]
