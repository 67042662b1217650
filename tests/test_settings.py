from __future__ import annotations

import pytest

from idp import create_app
from idp.settings import DEFAULT_SECRET_KEY, SettingsError, check_settings, load_settings

GOOD_SECRET = "x" * 48


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("IDP_ISSUER", "https://sso.haugiang.gov.vn/")
    monkeypatch.setenv("IDP_ARGON2_TIME_COST", "3")
    monkeypatch.setenv("IDP_LANGUAGES", '["en", "vi"]')
    settings = load_settings()
    assert settings["ISSUER"] == "https://sso.haugiang.gov.vn"
    assert settings["ARGON2_TIME_COST"] == 3
    assert settings["LANGUAGES"] == ["en", "vi"]


def test_default_database_is_sqlite_under_instance(monkeypatch):
    monkeypatch.delenv("IDP_DATABASE_URL", raising=False)
    assert load_settings()["DATABASE_URL"].endswith("instance/idp.sqlite3")


def test_instance_folder_is_taken_from_the_current_directory(monkeypatch, tmp_path):
    # An installed package has no checkout to put it in: ./instance where `idp` is started.
    monkeypatch.delenv("IDP_DATABASE_URL", raising=False)
    monkeypatch.delenv("IDP_INSTANCE_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    instance = tmp_path.resolve() / "instance"
    assert settings["INSTANCE_PATH"] == str(instance) and instance.is_dir()
    assert settings["DATABASE_URL"] == f"sqlite:///{instance / 'idp.sqlite3'}"


def test_instance_path_setting_places_the_app_instance_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "var"))
    app = create_app({"DATABASE_URL": "sqlite://"})
    assert app.instance_path == str(tmp_path / "var")
    # With a database URL of its own the provider needs no folder, and makes none.
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"SECRET_KEY": DEFAULT_SECRET_KEY, "ISSUER": "https://sso.example.vn"}, "IDP_SECRET_KEY"),
        ({"SECRET_KEY": "short", "ISSUER": "https://sso.example.vn"}, "IDP_SECRET_KEY"),
        ({"SECRET_KEY": GOOD_SECRET, "ISSUER": "http://sso.example.vn"}, "https"),
    ],
)
def test_production_refuses_unsafe_settings_with_one_line(overrides, reason):
    with pytest.raises(SettingsError) as caught:
        create_app({"ENV": "production", "DATABASE_URL": "sqlite://", **overrides})
    message = str(caught.value)
    assert reason in message and "\n" not in message


def test_production_starts_with_safe_settings():
    settings = {
        "ENV": "production",
        "SECRET_KEY": GOOD_SECRET,
        "KEY_ENCRYPTION_KEY": "k" * 48,
        "ISSUER": "https://sso.example.vn",
        "DATABASE_URL": "sqlite://",
    }
    app = create_app(settings)
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    "bad",
    [
        {"ISSUER": "sso.example.vn"},
        {"ISSUER": "https://sso.example.vn/?x=1"},
        {"ENV": "staging"},
        {"ARGON2_TIME_COST": 0},
        {"ARGON2_MEMORY_KIB": "lots"},
        {"LOGIN_THROTTLE_FREE_ATTEMPTS": 0},
        {"CSRF_TIME_LIMIT_SECONDS": True},
        {"AUDIT_RETENTION_DAYS": -1},
        # An attacker who waits out the longest delay must not find the count reset.
        {"LOGIN_THROTTLE_WINDOW_SECONDS": 900, "LOGIN_THROTTLE_MAX_DELAY_SECONDS": 900},
        # A delay of a day would be a lock-out anyone can impose on a named person.
        {"LOGIN_THROTTLE_WINDOW_SECONDS": 172800, "LOGIN_THROTTLE_MAX_DELAY_SECONDS": 86400},
        {"OUTBOUND_ALLOW_PRIVATE_TARGETS": "sometimes"},
        {"CLIENT_JWKS_FETCH_SECONDS": 0},
        {"CLIENT_JWKS_RETRY_SECONDS": "soon"},
        {"SUPPORT_EMAIL": "hotro"},
        {"SUPPORT_EMAIL": 'a"><script>@x.vn'},
        {"SUPPORT_PHONE": "gọi 0293"},
        {"SUPPORT_PHONE": 2923878787},
        {"SUPPORT_URL": "javascript:alert(1)"},
        {"SUPPORT_URL": "hotro.haugiang.gov.vn"},
        {"PASSWORD_RESET_LINK_SECONDS": 0},
        {"ACTIVATION_LINK_SECONDS": "3 days"},
        {"PASSWORD_RESET_PER_ADDRESS": 0},
        {"INVITE_BATCH_SIZE": -5},
        {"PASSWORD_CHANGE_TICKET_SECONDS": 1.5},
        # `idp cleanup` forgets the counters after the sign-in throttle's window.
        {"PASSWORD_RESET_WINDOW_SECONDS": 7200, "LOGIN_THROTTLE_WINDOW_SECONDS": 3600},
        {"LDAP_URL": "https://mail.haugiang.gov.vn"},
        {"LDAP_PRESET": "exchange"},
        {"LDAP_PASSWORD_CHECK": "sometimes"},
        {"LDAP_ATTRIBUTES": ["mail"]},
        {"LDAP_UNIT_MAP": {"VT/PTP": 12}},
        {"LDAP_UNIT_FROM": "attribute:"},
        {"LDAP_SYNC_MAX_DISABLE_PERCENT": 150},
        {"LDAP_START_TLS": "no"},
        {"LDAP_SYNC_PASSWORD_HASHES": "yes"},
        {"LDAP_PAGE_SIZE": 0},
        {"LDAP_TIMEOUT_SECONDS": 0},
    ],
)
def test_malformed_settings_are_refused(bad):
    settings = {**load_settings(), **bad}
    with pytest.raises(SettingsError):
        check_settings(settings)


def test_cli_reports_bad_settings_in_one_line(monkeypatch):
    from click.testing import CliRunner

    from idp.cli import main

    monkeypatch.setenv("IDP_ENV", "production")
    monkeypatch.setenv("IDP_ISSUER", "http://insecure.example.vn")
    monkeypatch.setenv("IDP_SECRET_KEY", GOOD_SECRET)
    result = CliRunner().invoke(main, ["keys", "list"])
    assert result.exit_code == 2
    assert "https" in result.output


def test_the_old_name_of_the_private_targets_setting_still_works(monkeypatch):
    """LOGOUT_ALLOW_PRIVATE_TARGETS became OUTBOUND_ALLOW_PRIVATE_TARGETS (every outbound
    call, not only logout deliveries): the old name is read when the new one is not set."""
    from idp.outbound import allow_private_targets

    monkeypatch.setenv("IDP_ISSUER", "https://sso.haugiang.gov.vn")
    assert allow_private_targets(load_settings()) is False  # auto
    monkeypatch.setenv("IDP_LOGOUT_ALLOW_PRIVATE_TARGETS", "true")
    settings = load_settings()
    assert allow_private_targets(settings) is True
    assert "LOGOUT_ALLOW_PRIVATE_TARGETS" not in settings
    monkeypatch.setenv("IDP_OUTBOUND_ALLOW_PRIVATE_TARGETS", "false")
    assert allow_private_targets(load_settings()) is False
    monkeypatch.delenv("IDP_OUTBOUND_ALLOW_PRIVATE_TARGETS")
    assert allow_private_targets(load_settings({"LOGOUT_ALLOW_PRIVATE_TARGETS": False})) is False


def test_the_support_contact_is_optional_and_checked():
    settings = load_settings()
    assert settings["SUPPORT_EMAIL"] == settings["SUPPORT_PHONE"] == settings["SUPPORT_URL"] == ""
    check_settings(settings)
    given = {
        "SUPPORT_EMAIL": "hotro@haugiang.gov.vn",
        "SUPPORT_PHONE": "+84 (293) 3.878-787",
        "SUPPORT_URL": "https://hotro.haugiang.gov.vn/dang-nhap",
    }
    check_settings({**settings, **given})


def test_ldap_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("IDP_LDAP_URL", "ldaps://mail.haugiang.gov.vn")
    monkeypatch.setenv("IDP_LDAP_UNIT_MAP", '{"So Tai chinh": "STC"}')
    monkeypatch.setenv("IDP_LDAP_SYNC_MAX_DISABLE_PERCENT", "2.5")
    settings = load_settings()
    check_settings(settings)
    assert settings["LDAP_UNIT_MAP"] == {"So Tai chinh": "STC"}
    assert settings["LDAP_SYNC_MAX_DISABLE_PERCENT"] == 2.5
