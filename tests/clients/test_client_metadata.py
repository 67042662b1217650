"""The client metadata rules (RFC 7591 2, OIDC Registration 2, RFC 8252 7), without HTTP."""

from __future__ import annotations

import pytest
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, RSAKey

from idp.clients.metadata import (
    InvalidClientMetadata,
    InvalidRedirectURI,
    MetadataPolicy,
    policy_from_config,
    validate_metadata,
)

DEV = MetadataPolicy(development=True)
PROD = MetadataPolicy(development=False)
DYNAMIC = MetadataPolicy(development=False, dynamic=True)


def web(*uris: str, **extra) -> dict:
    return {"redirect_uris": list(uris), **extra}


def native(*uris: str, **extra) -> dict:
    return {
        "redirect_uris": list(uris),
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        **extra,
    }


def test_defaults_are_filled_in():
    assert validate_metadata(web("https://rp.example/cb"), PROD) == {
        "application_type": "web",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": ["https://rp.example/cb"],
        "scope": "openid profile email phone",
        "id_token_signed_response_alg": "RS256",
    }


def test_normal_form_is_stable():
    raw = web(
        "https://rp.example/cb",
        "https://rp.example/cb",
        grant_types=["authorization_code", "refresh_token"],
        scope="openid  openid offline_access",
        contacts=["it@haugiang.gov.vn"],
        client_name=" Cổng ",
    )
    once = validate_metadata(raw, PROD)
    assert once["redirect_uris"] == ["https://rp.example/cb"]
    assert once["scope"] == "openid offline_access" and once["client_name"] == "Cổng"
    assert validate_metadata(once, PROD) == once


@pytest.mark.parametrize(
    ("policy", "metadata"),
    [
        (DEV, web("http://localhost:8080/cb")),
        (DEV, web("http://127.0.0.1:8101/auth/callback")),
        (DEV, web("http://[::1]:8101/cb")),
        (PROD, web("https://rp.example/cb?tenant=hg")),
        (PROD, web("https://rp.example:8443/cb")),
        (PROD, native("vn.gov.haugiang.app:/oauth2redirect")),
        (PROD, native("vn.gov.haugiang.app://callback")),
        (PROD, native("https://app.haugiang.gov.vn/oauth2redirect")),
        (PROD, native("http://127.0.0.1/oauth2redirect")),
        (PROD, native("http://[::1]:51000/cb")),
        (PROD, native("http://localhost/cb")),
    ],
)
def test_accepted_redirect_uris(policy, metadata):
    assert validate_metadata(metadata, policy)["redirect_uris"] == metadata["redirect_uris"]


@pytest.mark.parametrize(
    ("policy", "metadata", "reason"),
    [
        (PROD, web("https://rp.example/cb#"), "fragment"),
        (PROD, web("https://rp.example/cb#x"), "fragment"),
        (PROD, web("http://localhost:8080/cb"), "only in development"),
        (DEV, web("http://rp.example/cb"), "must use https"),
        (PROD, web("vn.gov.haugiang.app:/cb"), "native applications"),
        (PROD, web("/relative/cb"), "not an absolute URI"),
        (PROD, web("https:///cb"), "no valid host"),
        (PROD, web("https://*.example/cb"), "invalid host"),
        (PROD, web("https://user:pw@rp.example/cb"), "user information"),
        (PROD, web("https://rp.example:99999/cb"), "port above 65535"),
        (PROD, web("https://rp.example/c b"), "spaces"),
        (PROD, web("https://rp.example/\u0000"), "printable text"),
        (PROD, web("https://rp.example/" + "a" * 2000), "at most 2000 characters"),
        (PROD, web("javascript:alert(1)"), "not allowed"),
        (PROD, native("data:text/html,hi"), "not allowed"),
        (PROD, native("myapp:/cb"), "reversed domain name"),
        (PROD, native("http://rp.example/cb"), "must use https"),
        (PROD, {"redirect_uris": "https://rp.example/cb"}, "array of non-empty strings"),
        (PROD, {"redirect_uris": [1]}, "array of non-empty strings"),
        (PROD, {"redirect_uris": []}, "at least one is required"),
        (PROD, {}, "at least one is required"),
    ],
)
def test_refused_redirect_uris(policy, metadata, reason):
    with pytest.raises(InvalidRedirectURI) as caught:
        validate_metadata(metadata, policy)
    assert caught.value.field == "redirect_uris" and reason in caught.value.reason


@pytest.mark.parametrize(
    ("metadata", "field", "reason"),
    [
        (web("https://r.example/cb", grant_types=["implicit"]), "grant_types", "not supported"),
        (web("https://r.example/cb", grant_types="authorization_code"), "grant_types", "array"),
        (web("https://r.example/cb", response_types=["code id_token"]), "response_types", "only"),
        (web("https://r.example/cb", response_types=[]), "response_types", "goes together"),
        ({"grant_types": ["client_credentials"], "response_types": ["code"]}, "response_types",
         "goes together"),
        ({"grant_types": ["client_credentials", "refresh_token"]}, "grant_types",
         "only issued with the authorization_code"),
        (native("http://127.0.0.1/cb", grant_types=["authorization_code", "client_credentials"]),
         "grant_types", "public clients"),
        (web("https://r.example/cb", token_endpoint_auth_method="client_secret_jwt"),
         "token_endpoint_auth_method", "not supported"),
        (web("https://r.example/cb", token_endpoint_auth_method="private_key_jwt"),
         "token_endpoint_auth_method", "needs jwks or jwks_uri"),
        (web("https://r.example/cb", application_type="desktop"), "application_type",
         "web, native"),
        (web("https://r.example/cb", scope="openid offline_access"), "scope", "refresh_token"),
        (web("https://r.example/cb", scope=["openid"]), "scope", "space-separated string"),
        (web("https://r.example/cb", scope='openid "x"'), "scope", "not a valid scope token"),
        (web("https://r.example/cb", id_token_signed_response_alg="none"),
         "id_token_signed_response_alg", "not supported"),
        (web("https://r.example/cb", id_token_signed_response_alg="HS256"),
         "id_token_signed_response_alg", "not supported"),
        (web("https://r.example/cb", subject_type="pairwise"), "subject_type", "only public"),
        (web("https://r.example/cb", sector_identifier_uri="https://r.example/s.json"),
         "sector_identifier_uri", "pairwise subject identifiers are not supported"),
        (web("https://r.example/cb", id_token_encrypted_response_alg="RSA-OAEP"),
         "id_token_encrypted_response_alg", "not supported"),
        (web("https://r.example/cb", userinfo_signed_response_alg="none"),
         "userinfo_signed_response_alg", "not supported"),
        (web("https://r.example/cb", request_uris=["https://r.example/r"]), "request_uris",
         "not supported"),
        (web("https://r.example/cb", default_max_age=-1), "default_max_age", ">= 0"),
        (web("https://r.example/cb", default_max_age=True), "default_max_age", ">= 0"),
        (web("https://r.example/cb", default_max_age=1.5), "default_max_age", "whole number"),
        (web("https://r.example/cb", require_auth_time="yes"), "require_auth_time",
         "true or false"),
        (web("https://r.example/cb", default_acr_values=["LoA1"]), "default_acr_values",
         "not supported"),
        (web("https://r.example/cb", logo_uri="http://r.example/logo.png"), "logo_uri", "https"),
        (web("https://r.example/cb", policy_uri="ftp://r.example/p"), "policy_uri", "https URL"),
        (web("https://r.example/cb", tos_uri="https://r.example/t#x"), "tos_uri", "fragment"),
        (web("https://r.example/cb", client_uri=5), "client_uri", "non-empty string"),
        (web("https://r.example/cb", initiate_login_uri="http://r.example/l"),
         "initiate_login_uri", "https"),
        (web("https://r.example/cb", jwks_uri="http://r.example/jwks"), "jwks_uri", "https"),
        (web("https://r.example/cb", backchannel_logout_uri="https://r.example/b#f"),
         "backchannel_logout_uri", "fragment"),
        (web("https://r.example/cb", frontchannel_logout_uri="https://other.example/f"),
         "frontchannel_logout_uri", "scheme, host and port"),
        (web("https://r.example/cb", backchannel_logout_session_required="true"),
         "backchannel_logout_session_required", "true or false"),
        (web("https://r.example/cb", post_logout_redirect_uris=["https://r.example/#f"]),
         "post_logout_redirect_uris", "fragment"),
        (web("https://r.example/cb", contacts="it@haugiang.gov.vn"), "contacts", "array"),
        (web("https://r.example/cb", client_name=""), "client_name", "non-empty"),
        (web("https://r.example/cb", client_name="x" * 301), "client_name", "at most"),
        (web("https://r.example/cb", **{"client_name#vi": "\u0007"}), "client_name#vi",
         "printable"),
        (web("https://r.example/cb", colour="blue"), "colour", "unknown client metadata field"),
        (web("https://r.example/cb", **{"client_name#": "x"}), "client_name#", "unknown"),
        (web("https://r.example/cb", **{"scope#vi": "x"}), "scope#vi", "unknown"),
    ],
)  # fmt: skip
def test_refused_metadata(metadata, field, reason):
    with pytest.raises(InvalidClientMetadata) as caught:
        validate_metadata(metadata, PROD)
    assert not isinstance(caught.value, InvalidRedirectURI) or field == "redirect_uris"
    assert caught.value.field == field and reason in caught.value.reason, caught.value


def test_dynamic_registration_ignores_unknown_fields_and_limits_scopes():
    metadata = web("https://r.example/cb", colour="blue", software_statement="eyJ...")
    assert "colour" not in validate_metadata(metadata, DYNAMIC)
    with pytest.raises(InvalidClientMetadata, match="not supported"):
        validate_metadata(web("https://r.example/cb", scope="openid lgsp.write"), DYNAMIC)
    assert validate_metadata(web("https://r.example/cb", scope="openid lgsp.write"), PROD)
    with pytest.raises(InvalidClientMetadata, match="administrators only"):
        validate_metadata(web("https://r.example/cb", allowed_audiences=["x"]), DYNAMIC)


def test_fields_sent_back_by_clients_are_dropped():
    metadata = web(
        "https://r.example/cb",
        client_id="abc",
        client_secret="s",
        registration_access_token="t",
        client_id_issued_at=1,
    )
    normal = validate_metadata(metadata, PROD)
    assert not {"client_id", "client_secret", "registration_access_token"} & set(normal)


def test_localized_names_and_pages():
    normal = validate_metadata(
        web(
            "https://r.example/cb",
            client_name="Cổng thông tin",
            **{"client_name#en": "Web portal", "logo_uri#en": "https://r.example/logo-en.png"},
        ),
        PROD,
    )
    assert normal["client_name#en"] == "Web portal"
    assert normal["logo_uri#en"] == "https://r.example/logo-en.png"


def test_public_keys():
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r1"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "e1"})
    public = {"keys": [rsa.as_dict(private=False), ec.as_dict(private=False)]}
    normal = validate_metadata(
        web("https://r.example/cb", token_endpoint_auth_method="private_key_jwt", jwks=public),
        PROD,
    )
    assert normal["jwks"] == public and normal["token_endpoint_auth_method"] == "private_key_jwt"
    with pytest.warns(SecurityWarning):
        weak = RSAKey.generate_key(1024, parameters={"kid": "w"}, private=True)
    for bad, reason in (
        ({"keys": [rsa.as_dict(private=True)]}, "private key material"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "only RSA and EC"),
        ({"keys": [{"kty": "RSA", "n": "x"}]}, "not a valid JWK Set"),
        ({"keys": [weak.as_dict(private=False)]}, "at least 2048 bits"),
        ({"keys": []}, "must be a JWK Set"),
        ([], "must be a JWK Set"),
    ):
        with pytest.raises(InvalidClientMetadata) as caught:
            validate_metadata(web("https://r.example/cb", jwks=bad), PROD)
        assert caught.value.field == "jwks" and reason in caught.value.reason
    with pytest.raises(InvalidClientMetadata, match="must not both be present"):
        validate_metadata(
            web("https://r.example/cb", jwks=public, jwks_uri="https://r.example/jwks"), PROD
        )


def test_machine_client():
    normal = validate_metadata(
        {"grant_types": ["client_credentials"], "scope": "lgsp.read", "allowed_audiences": ["a"]},
        PROD,
    )
    assert normal["response_types"] == [] and normal["redirect_uris"] == []
    assert normal["allowed_audiences"] == ["a"]
    assert validate_metadata({"grant_types": ["client_credentials"]}, PROD)["scope"] == ""


def test_policy_from_settings():
    settings = {
        "ENV": "production",
        "KEY_ALGORITHMS": ["RS256"],
        "ACR_VALUES_SUPPORTED": ["urn:hg:loa:1"],
    }
    policy = policy_from_config(settings, dynamic=True)
    assert policy == MetadataPolicy(
        development=False, dynamic=True, id_token_algs=("RS256",), acr_values=("urn:hg:loa:1",)
    )
    # Dynamic clients may only ask for levels the sign-in performs today; administrators may
    # register a known level ahead of its roll-out.
    step_up = web("https://r.example/cb", default_acr_values=["urn:hg:loa:2"])
    with pytest.raises(InvalidClientMetadata, match="supported: urn:hg:loa:1"):
        validate_metadata(step_up, policy)
    admin = policy_from_config(settings, dynamic=False)
    assert validate_metadata(step_up, admin)["default_acr_values"] == ["urn:hg:loa:2"]
    signed = web("https://r.example/cb", userinfo_signed_response_alg="RS256")
    assert validate_metadata(signed, policy)["userinfo_signed_response_alg"] == "RS256"
    with pytest.raises(InvalidClientMetadata):
        validate_metadata(web("https://r.example/cb", id_token_signed_response_alg="ES256"), policy)
    assert policy_from_config({"ENV": "development"}, dynamic=False).development


def test_not_an_object():
    with pytest.raises(InvalidClientMetadata, match="JSON object"):
        validate_metadata(["redirect_uris"], PROD)  # type: ignore[arg-type]
