"""The passkey settings are checked when the provider starts."""

from __future__ import annotations

import pytest

from idp.settings import SettingsError, check_settings, load_settings


def test_the_defaults_pass():
    settings = load_settings()
    check_settings(settings)
    assert settings["PASSKEY_SIGN_IN"] is True
    assert "urn:hg:loa:3" in settings["ACR_VALUES_SUPPORTED"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"PASSKEY_USER_VERIFICATION": "discouraged"}, "IDP_PASSKEY_USER_VERIFICATION"),
        ({"PASSKEY_SIGN_IN": "yes"}, "IDP_PASSKEY_SIGN_IN"),
        # One source of truth for the level (idp.assurance): the old settings are refused.
        ({"ACR_PHISHING_RESISTANT": "urn:hg:loa:3"}, "IDP_ACR_PHISHING_RESISTANT"),
        ({"PASSKEY_CEREMONY_SECONDS": 0}, "IDP_PASSKEY_CEREMONY_SECONDS"),
        ({"PASSKEY_MAX_PER_USER": -1}, "IDP_PASSKEY_MAX_PER_USER"),
        ({"PASSKEY_REMOVE_MAX_AGE_SECONDS": 900}, "IDP_PASSKEY_REMOVE_MAX_AGE_SECONDS"),
    ],
)
def test_bad_values_are_refused_with_the_settings_name(overrides, reason):
    with pytest.raises(SettingsError, match=reason):
        check_settings(load_settings(overrides))


def test_environment_overrides_are_read(monkeypatch):
    monkeypatch.setenv("IDP_PASSKEY_SIGN_IN", "false")
    monkeypatch.setenv("IDP_PASSKEY_USER_VERIFICATION", "required")
    settings = load_settings()
    check_settings(settings)
    assert settings["PASSKEY_SIGN_IN"] is False
    assert settings["PASSKEY_USER_VERIFICATION"] == "required"
