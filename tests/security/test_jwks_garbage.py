"""A JWK set document that is not one (issue 8 review, finding 4).

A jwks_uri answering `{}`, 30,000 nested `[`, or a key on a curve that does not exist made
the token endpoint answer 500 with a traceback (KeyError from the key import,
RecursionError from json.loads), and made `idp worker`'s refresh stop at that client, so
every client after it went without keys. The same key inline at registration gave a 500
too. One function (idp.jwks.public_key_set) now reads every untrusted JWK set: the
token endpoint answers invalid_client, registration invalid_client_metadata, the failure
is recorded and the worker goes on with the next client.
"""

from __future__ import annotations

import json

import pytest
from helpers.clients import initial_access_token
from helpers.hostile_peers import LOOPBACK, Peer, add_client, answer, assertion_form, new_key
from helpers.hostile_peers import jwks as serve_jwks

UNKNOWN_EC = {"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}
UNKNOWN_OKP = {"kty": "OKP", "crv": "X-999", "x": "AA"}

DOCUMENTS = {
    "empty object": b"{}",
    "nested arrays": b"[" * 30000,
    "nested objects": b'{"keys":' * 30000,
    "unknown EC curve": json.dumps({"keys": [UNKNOWN_EC]}).encode(),
    "unknown OKP curve": json.dumps({"keys": [UNKNOWN_OKP]}).encode(),
    "EC point off the curve": json.dumps(
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}
    ).encode(),
    "RSA without n": json.dumps({"keys": [{"kty": "RSA", "e": "AQAB"}]}).encode(),
    "RSA with a bad modulus": json.dumps(
        {"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}
    ).encode(),
    "unknown kty": json.dumps({"keys": [{"kty": "XYZ"}]}).encode(),
    "keys not a list": b'{"keys": "x"}',
    "key not an object": b'{"keys": [1]}',
    "not JSON": b"<html>",
    "not UTF-8": b'{"keys": ["\xff"]}',
    "a list": b"[]",
    "a number": b"1e999999",
}


@pytest.fixture
def app_config():
    return LOOPBACK


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_a_jwks_uri_answering_garbage_is_invalid_client_and_recorded(app, client, document):
    from idp.oidc import client_keys

    peer = Peer(answer(200, document, {"Content-Type": "application/json"}))
    try:
        add_client(app, "garbage", jwks_uri=peer.url())
        response = client.post("/oauth2/token", data=assertion_form(new_key(), "garbage"))
    finally:
        peer.stop()
    assert response.status_code in (400, 401), response.get_data(as_text=True)[:300]
    assert response.get_json()["error"] == "invalid_client"
    with app.app_context():
        state = client_keys.state_of("garbage")
        assert state.failures == 1 and state.last_error


def test_a_poisoned_client_does_not_stop_the_workers_refresh(app, client):
    """Clients are refreshed in client_id order: the poisoned one comes first."""
    from idp.oidc import client_keys
    from idp.sessions import worker

    key = new_key()
    poisoned = Peer(answer(200, json.dumps({"keys": [UNKNOWN_EC]}).encode()))
    nested = Peer(answer(200, b"[" * 30000))
    good = Peer(serve_jwks([key]))
    try:
        add_client(app, "a-poisoned", jwks_uri=poisoned.url())
        add_client(app, "b-nested", jwks_uri=nested.url())
        add_client(app, "c-good", jwks_uri=good.url())
        with app.app_context():
            worker.run(once=True)
            assert client_keys.state_of("a-poisoned").failures == 1
            assert client_keys.state_of("b-nested").failures == 1
            assert client_keys.state_of("c-good").jwks is not None
        assert client.post("/oauth2/token", data=assertion_form(key, "c-good")).status_code == 200
    finally:
        poisoned.stop()
        nested.stop()
        good.stop()
    assert len(good.hits) == 1


# ---------------------------------------------------------------- inline, at registration

INLINE = {
    "empty object": {},
    "unknown EC curve": {"keys": [UNKNOWN_EC]},
    "unknown OKP curve": {"keys": [UNKNOWN_OKP]},
    "EC point off the curve": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]},
    "RSA without n": {"keys": [{"kty": "RSA", "e": "AQAB"}]},
    "RSA with a bad modulus": {"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]},
    "keys not a list": {"keys": "x"},
    "key not an object": {"keys": [1]},
    "a list": [],
}


def _metadata(jwks) -> dict:
    return {
        "redirect_uris": ["https://rp.example.org/cb"],
        "client_name": "Hệ thống thử khóa",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks,
    }


def _refused(response) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"] in ("invalid_client_metadata", "invalid_request")


@pytest.mark.parametrize("jwks", INLINE.values(), ids=INLINE.keys())
def test_registration_with_a_garbage_jwks_is_invalid_client_metadata(app, client, jwks):
    auth = {"Authorization": f"Bearer {initial_access_token(app, uses=5)}"}
    response = client.post("/oauth2/register", json=_metadata(jwks), headers=auth)
    _refused(response)
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_registration_with_a_deeply_nested_jwks_is_refused(app, client):
    body = json.dumps(_metadata(None)).replace("null", "[" * 30000 + "]" * 30000)
    auth = {
        "Authorization": f"Bearer {initial_access_token(app, uses=5)}",
        "Content-Type": "application/json",
    }
    _refused(client.post("/oauth2/register", data=body, headers=auth))


@pytest.mark.parametrize("jwks", INLINE.values(), ids=INLINE.keys())
def test_an_update_with_a_garbage_jwks_is_invalid_client_metadata(app, client, jwks):
    auth = {"Authorization": f"Bearer {initial_access_token(app, uses=5)}"}
    good = _metadata({"keys": [new_key().as_dict(private=False)]})
    registered = client.post("/oauth2/register", json=good, headers=auth).get_json()
    path = registered["registration_client_uri"].removeprefix("http://idp.test")
    manage = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    body = {**good, "client_id": registered["client_id"], "jwks": jwks}
    response = client.put(path, json=body, headers=manage)
    _refused(response)
    assert response.get_json()["error"] == "invalid_client_metadata"
