"""Administrators for the console and admin API tests: a person signed in at the console's
level (password and authenticator code), super-administrator or of a unit's subtree."""

from __future__ import annotations

from helpers.factors import enrol, sign_in_with_factor
from helpers.people import PASSWORD


def grant_unit(app, email: str, unit_code: str) -> None:
    """Make the person administrator of the unit's subtree."""
    from idp.admin import permissions
    from idp.directory.store import find_unit, find_user_by_address
    from idp.extensions import db

    with app.test_request_context():
        permissions.grant_unit(find_user_by_address(email), find_unit(unit_code), actor="test")
        db.session.commit()


def console_sign_in(app, http, email: str) -> None:
    """Sign the Flask test client `http` in as `email` with a second factor (enrolled here)."""
    secret, _codes = enrol(app, email)
    answer = sign_in_with_factor(http, secret, email)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]


def make_admin(app, make_user, http, email: str = "quan.tri@haugiang.gov.vn", **kwargs):
    """A super-administrator signed in on `http`; returns their sub."""
    sub = make_user(email, password=PASSWORD, roles=["admin"], **kwargs)
    console_sign_in(app, http, email)
    return sub


def make_unit_admin(app, make_user, http, unit_code: str, email: str, **kwargs):
    """A person in `unit_code`, administrator of its subtree, signed in on `http`."""
    sub = make_user(email, password=PASSWORD, unit=unit_code, **kwargs)
    grant_unit(app, email, unit_code)
    console_sign_in(app, http, email)
    return sub
