"""The OpenID Foundation's oidcc-config-certification-test-plan (oidcc-discovery-endpoint-
verification and the checks it bundles), plus RFC 8414 metadata."""

from __future__ import annotations

import json

import pytest
from authlib.oauth2 import rfc8414, rfc9207
from authlib.oidc.discovery import OpenIDProviderMetadata
from helpers.oidc_flow import ISSUER
from joserfc.jwk import KeySet

DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def metadata(client) -> dict:
    response = client.get(DISCOVERY)
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_oidcc_discovery_endpoint_verification(client, metadata, monkeypatch):
    # Authlib's validator insists on https; the test issuer is http://idp.test.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    OpenIDProviderMetadata(metadata).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata]
    )
    # CheckDiscEndpointIssuer: the document's issuer is the issuer it was fetched from.
    assert metadata["issuer"] == ISSUER
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert metadata[name].startswith(ISSUER + "/")
    assert "openid" in metadata["scopes_supported"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["subject_types_supported"] == ["public"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    assert metadata["claims_parameter_supported"] is True
    assert {"sub", "name", "email", "acr", "auth_time"} <= set(metadata["claims_supported"])
    # ValidateServerJWKs: the jwks_uri serves public keys only, each with kid, alg and use.
    jwks = json.loads(client.get(metadata["jwks_uri"].removeprefix(ISSUER)).get_data())
    KeySet.import_key_set(jwks)
    for key in jwks["keys"]:
        assert key["kid"] and key["use"] == "sig" and key["alg"] in ("RS256", "ES256")
        assert "d" not in key


def test_discovery_lists_exactly_what_is_supported(metadata):
    assert metadata["response_modes_supported"] == ["query", "form_post"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert "implicit" not in metadata["grant_types_supported"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert metadata["acr_values_supported"] == ["urn:hg:loa:1", "urn:hg:loa:2", "urn:hg:loa:3"]
    assert metadata["ui_locales_supported"] == ["vi", "en"]
    assert metadata["registration_endpoint"] == ISSUER + "/oauth2/register"
    for unsupported in (
        "device_authorization_endpoint",
        "pushed_authorization_request_endpoint",
        "request_object_signing_alg_values_supported",
    ):
        assert unsupported not in metadata


def test_rfc8414_metadata_is_the_same_document(client, metadata, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.get_json() == metadata
    rfc8414.AuthorizationServerMetadata(response.get_json()).validate()


def test_discovery_is_cacheable_and_readable_from_browsers(client):
    response = client.get(DISCOVERY)
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.post(DISCOVERY).status_code == 405


@pytest.mark.parametrize(
    "app_config",
    [{"ACR_VALUES_SUPPORTED": ["urn:hg:loa:1", "urn:hg:loa:2"], "KEY_ALGORITHMS": ["RS256"]}],
)
def test_discovery_follows_the_settings(metadata):
    assert metadata["acr_values_supported"] == ["urn:hg:loa:1", "urn:hg:loa:2"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
