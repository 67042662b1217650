"""TOTP codes and recovery codes, alone: drift, format, single use, sealing; the levels
that methods reach (idp.assurance)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from idp import assurance
from idp.factors import recovery, totp

NOW = datetime(2026, 12, 6, 8, 0, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "found"), [(-60, False), (-30, True), (0, True), (30, True), (60, False)]
)
def test_one_step_of_drift_each_way(seconds, found):
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(NOW + timedelta(seconds=seconds))
    step = totp.matching_step(secret, code, NOW)
    assert (step is not None) is found
    if found:
        assert step == totp.step_at(NOW + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("123456", "123456"),
        (" 123 456 ", "123456"),
        ("12345", None),
        ("1234567", None),
        ("12345a", None),
        ("١٢٣٤٥٦", None),
        ("", None),
        (None, None),
    ],
)
def test_code_format(typed, clean):
    assert totp.clean_code(typed) == clean


def test_secrets_are_160_random_bits():
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20 and all(len(s) == 32 for s in secrets)


def test_the_qr_code_is_an_inline_svg_of_the_provisioning_uri():
    uri = totp.provisioning_uri(
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "an@haugiang.gov.vn", "Hậu Giang SSO"
    )
    assert uri.startswith("otpauth://totp/") and "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and "<script" not in svg


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("abcde-fghjk", True),
        ("ABCDE FGHJK", True),
        ("abcdefghjk", True),
        ("abcde-fghj", False),
        ("abcde-fghj0", False),
        ("", False),
    ],
)
def test_recovery_code_format(typed, ok):
    assert (recovery.clean(typed) is not None) is ok


def test_recovery_codes_are_single_use_and_replaced(app, make_user):
    from idp.directory.store import find_user_by_address
    from idp.extensions import db
    from idp.factors.models import RecoveryCode

    make_user()
    with app.app_context():
        user = find_user_by_address("nguyen.van.an@haugiang.gov.vn")
        codes = recovery.issue(user.id, NOW)
        assert len(codes) == 10 and recovery.remaining(user.id) == 10
        assert recovery.redeem(user.id, codes[0], NOW)
        assert not recovery.redeem(user.id, codes[0], NOW)
        assert not recovery.redeem(user.id, "zzzzz-zzzzz", NOW)
        assert recovery.remaining(user.id) == 9
        fresh = recovery.issue(user.id, NOW)
        assert not recovery.redeem(user.id, codes[1], NOW)
        assert recovery.remaining(user.id) == 10 and not set(fresh) & set(codes)
        stored = db.session.execute(sa.select(RecoveryCode.code_hash)).scalars().all()
        assert all(len(h) == 64 for h in stored)
        db.session.rollback()


@pytest.mark.parametrize(
    ("methods", "acr", "amr"),
    [
        ([], "", []),
        (["pwd"], "urn:hg:loa:1", ["pwd"]),
        (["pwd", "otp"], "urn:hg:loa:2", ["pwd", "otp", "mfa"]),
        (["otp"], "urn:hg:loa:1", ["otp"]),
        (["pwd", "otp", "mfa"], "urn:hg:loa:2", ["pwd", "otp", "mfa"]),
        (["hwk", "user"], "urn:hg:loa:3", ["hwk", "user", "mfa"]),
        (["pwd", "swk"], "urn:hg:loa:2", ["pwd", "swk", "mfa"]),
    ],
)
def test_levels_from_methods(methods, acr, amr):
    assert assurance.acr_for(methods) == acr
    assert assurance.amr_for(methods) == amr


def test_method_time():
    base = datetime(2026, 1, 1, tzinfo=UTC)
    times = {"pwd": int(base.timestamp()), "otp": int(base.timestamp()) + 60}
    assert assurance.method_time(times, ["otp", "hwk"], base) == base + timedelta(seconds=60)
    assert assurance.method_time(None, ["otp"], base) == base
    assert assurance.method_time({"pwd": 1}, ["otp"], base) == datetime.fromtimestamp(0, UTC)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FACTOR_MAX_ATTEMPTS", 0),
        ("FACTOR_PENDING_SECONDS", "300"),
        ("FACTOR_FRESH_SECONDS", True),
        ("MFA_REQUIRED_ROLES", "admin"),
        ("MFA_REQUIRED_CLIENTS", [1]),
    ],
)
def test_bad_settings_stop_the_start(key, value):
    from idp.factors import check_factor_settings
    from idp.settings import SettingsError, load_settings

    settings = load_settings({key: value})
    with pytest.raises(SettingsError, match=f"IDP_{key}"):
        check_factor_settings(settings)
    check_factor_settings(load_settings())
