"""A relying party gets what a passkey sign-in proved: the ID token's acr is the
phishing-resistant level and its amr the passkey's (RFC 8176), also when the relying party
asked for that level while the person was signed in with a password (step-up)."""

from __future__ import annotations

import pytest
from helpers.authenticator import Authenticator
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.passkeys import enrol, passkey_sign_in
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


@pytest.mark.parametrize(
    "app_config", [{"ACR_VALUES_SUPPORTED": ["urn:hg:loa:1", "urn:hg:loa:2", LOA3]}]
)
def test_step_up_to_the_phishing_resistant_level_with_a_passkey(app, rp, client):
    key = _enrolled_key(app)
    relying_party = RelyingParty(client)
    relying_party.login()
    first = relying_party.code_flow()
    claims = relying_party.validate_id_token(
        relying_party.exchange(first).get_json()["id_token"], nonce=first.nonce
    )
    assert claims["acr"] == "urn:hg:loa:1"
    # Document signing asks for more: back to the sign-in page, where a passkey reaches it.
    response = relying_party.authorize(nonce=NONCE, acr_values=LOA3)
    code = _code_after_passkey(relying_party, key, response)
    claims = relying_party.validate_id_token(
        relying_party.exchange_code(code)["id_token"], nonce=NONCE
    )
    assert claims["acr"] == LOA3 and claims["amr"] == ["hwk", "user"]
