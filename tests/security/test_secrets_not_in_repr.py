"""Secrets in settings objects never show in their repr(): a log line, a traceback's
locals (Flask's debugger, Sentry) or an error message that formats the settings must not
carry the upstream's client secret, its private key or the LDAP bind password."""

from __future__ import annotations

from dataclasses import replace

from helpers.upstreams import broker_settings

from idp.directory.ldap.config import ldap_settings
from idp.settings import load_settings
from idp.upstreams.config import parse_upstream

SECRET = "s3cret-that-must-not-leak-" + "x" * 20
PEM = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----"


def test_an_upstreams_client_secret_and_private_key_are_not_in_its_repr():
    upstream = parse_upstream(
        "corp", broker_settings("https://up.example", client_secret=SECRET), {}
    )
    assert upstream.client_secret == SECRET
    upstream = replace(upstream, private_key_pem=PEM)
    text = repr(upstream)
    assert SECRET not in text and "not-a-real-key" not in text
    assert "corp" in text  # the rest is still there


def test_the_ldap_bind_password_is_not_in_the_settings_repr():
    config = {
        **load_settings({}),
        "LDAP_URL": "ldap://127.0.0.1:389",
        "LDAP_BASE_DN": "dc=haugiang,dc=gov,dc=vn",
        "LDAP_BIND_DN": "cn=idp,dc=haugiang,dc=gov,dc=vn",
        "LDAP_BIND_PASSWORD": SECRET,
    }
    settings = ldap_settings(config)
    assert settings.bind_password == SECRET
    assert SECRET not in repr(settings) and "cn=idp" in repr(settings)
