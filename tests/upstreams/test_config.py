"""The upstream providers of the settings: parsed at start-up, every mistake a clear
SettingsError naming the upstream and the setting."""

from __future__ import annotations

import json

import pytest

from idp import create_app
from idp.settings import SettingsError
from idp.upstreams.config import link_key_for, load_upstreams, parse_upstream

NATIONAL = {
    "display_name": "tài khoản Cổng Dịch vụ công quốc gia",
    "issuer": "https://xacthuc.dichvucong.gov.vn",
    "discovery": False,
    "authorization_endpoint": "https://xacthuc.dichvucong.gov.vn/oauth2/authorize",
    "token_endpoint": "https://xacthuc.dichvucong.gov.vn/oauth2/token",
    "userinfo_endpoint": "https://xacthuc.dichvucong.gov.vn/oauth2/userinfo",
    "jwks_uri": "https://xacthuc.dichvucong.gov.vn/oauth2/jwks",
    "client_id": "haugiang",
    "client_secret": "s3cret",
    "acr_values": ["LoA1"],
    "link_claim": "SoDinhDanh",
    "level_claims": ["acr", "loAs"],
    "levels": {"LoA1": "urn:hg:loa:1", "LoA2": "urn:hg:loa:2"},
    "claims": {
        "name": "HoVaTen",
        "birthdate": {"claim": "NgayThangNamSinh", "date_format": "%Y%m%d"},
        "locality": "address.locality",
    },
}


def parse(**changes):
    table = {**NATIONAL, **changes}
    table = {k: v for k, v in table.items() if v is not None}
    return parse_upstream("dvcqg", table, {})


def test_an_upstream_without_discovery_is_parsed_with_its_endpoints_and_mapping():
    upstream = parse()
    assert upstream.discovery is False
    assert upstream.endpoints["token_endpoint"].endswith("/oauth2/token")
    assert upstream.levels == {"LoA1": "urn:hg:loa:1", "LoA2": "urn:hg:loa:2"}
    assert upstream.claims["birthdate"].path == ("NgayThangNamSinh",)
    assert upstream.claims["birthdate"].date_format == "%Y%m%d"
    assert upstream.claims["locality"].path == ("address", "locality")
    # Safe defaults: hashed link key, no acr_values forwarded, no e-mail trust, no accounts.
    assert upstream.link_hashed and not upstream.forward_acr_values
    assert not upstream.trust_verified_email and not upstream.create_accounts
    assert not upstream.allow_private_addresses


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"token_endpoint": None}, "without discovery, token_endpoint must be given"),
        ({"issuer": "ftp://x"}, "issuer must be an absolute http(s) URL"),
        ({"jwks_uri": "https://user:pw@x/jwks"}, "jwks_uri must be a plain http(s) URL"),
        ({"client_id": ""}, "display_name and client_id must be given"),
        ({"client_secret": None}, "IDP_UPSTREAM_DVCQG_CLIENT_SECRET"),
        ({"client_auth_method": "tls"}, "client_auth_method must be one of"),
        ({"client_auth_method": "private_key_jwt"}, "needs private_key_file"),
        ({"levels": {"LoA2": "urn:hg:loa:9"}}, "levels.LoA2 must be one of our levels"),
        ({"default_level": "high"}, "default_level must be empty or one of"),
        ({"claims": {"shoe_size": "x"}}, "unknown attribute 'shoe_size'"),
        ({"claims": {"birthdate": {"claim": "a..b"}}}, "is not a claim path"),
        ({"claims": {"birthdate": {"claim": "d", "date_format": "YYYY"}}}, "strptime"),
        ({"id_token_signing_alg_values": ["none"]}, "(never none)"),
        ({"id_token_signing_alg_values": ["HS512"]}, "(never none)"),
        ({"id_token_signing_alg_values": ["HS256"]}, "at least 32 bytes long"),
        ({"jwks_uri": None}, "without discovery, jwks_uri must be given"),
        ({"scopes": ["profile"]}, "scopes must include openid"),
        ({"create_accounts": True}, "create_accounts needs create_in_unit"),
        ({"forward_acr_values": "yes"}, "forward_acr_values must be true or false"),
        ({"userinfo": "sometimes"}, "userinfo must be one of"),
        ({"clientid": "x"}, "unknown setting 'clientid'"),
    ],
)
def test_each_mistake_is_a_settings_error_naming_the_upstream_and_setting(changes, words):
    with pytest.raises(SettingsError) as caught:
        parse(**changes)
    assert "upstream 'dvcqg'" in str(caught.value)
    assert words in str(caught.value)


def test_hs256_keyed_with_a_long_client_secret_needs_no_jwks():
    upstream = parse(id_token_signing_alg_values=["HS256"], client_secret="k" * 32, jwks_uri=None)
    assert upstream.id_token_algs == ("HS256",) and "jwks_uri" not in upstream.endpoints


def test_a_bad_name_is_refused():
    with pytest.raises(SettingsError, match="upstream name"):
        parse_upstream("Cổng/1", NATIONAL, {})


def test_the_client_secret_comes_from_the_environment_first(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    table = {**NATIONAL, "client_secret": "", "client_secret_file": str(secret_file)}
    assert parse_upstream("dvcqg", table, {}).client_secret == "from-file"
    environ = {"IDP_UPSTREAM_DVCQG_CLIENT_SECRET": "from-env"}
    assert parse_upstream("dvcqg", table, environ).client_secret == "from-env"


def test_upstreams_are_read_from_settings_and_from_a_file(tmp_path):
    path = tmp_path / "upstreams.json"
    path.write_text(json.dumps({"second": {**NATIONAL, "display_name": "Second"}}))
    found = load_upstreams(
        {"UPSTREAMS": {"dvcqg": NATIONAL, "off": {"enabled": False}}, "UPSTREAMS_FILE": str(path)},
        {},
    )
    assert list(found) == ["dvcqg", "second"]
    toml = tmp_path / "upstreams.toml"
    toml.write_text('[UPSTREAMS.third]\ndisplay_name = "x"\n')
    with pytest.raises(SettingsError, match="upstream 'third': display_name and client_id"):
        load_upstreams({"UPSTREAMS_FILE": str(toml)}, {})


def test_the_app_refuses_to_start_with_a_bad_upstream(monkeypatch):
    monkeypatch.setenv("IDP_UPSTREAMS", json.dumps({"dvcqg": {**NATIONAL, "levels": []}}))
    with pytest.raises(SettingsError, match="levels must be a table"):
        create_app({"DATABASE_URL": "sqlite://"})


def test_link_keys_are_keyed_hashes_unless_configured_otherwise():
    config = {"KEY_ENCRYPTION_KEY": "k" * 40, "SECRET_KEY": "s" * 40}
    hashed = link_key_for(parse(), "001099012345", config)
    assert hashed.startswith("h1:") and "001099012345" not in hashed
    assert hashed == link_key_for(parse(), "001099012345", config)
    other_key = {**config, "KEY_ENCRYPTION_KEY": "j" * 40}
    assert link_key_for(parse(), "001099012345", other_key) != hashed
    assert link_key_for(parse(link_hashed=False), "001099012345", config) == "001099012345"
