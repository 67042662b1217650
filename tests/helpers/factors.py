"""Second factors for the tests: an authenticator enrolled directly, and its codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp

from helpers.pages import csrf_of
from helpers.people import EMAIL

# Recovery codes as the page shows them.
RECOVERY_CODE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")
SECRET_ON_PAGE = re.compile(r'id="totp-secret" class="secret">([A-Z2-7 ]+)</code>')


def code_for(secret: str, seconds: float = 0) -> str:
    """The authenticator's code `seconds` after now (the pages' clock may be shifted too)."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return pyotp.TOTP(secret).at(at)


def enrol(app, email: str = EMAIL) -> tuple[str, list[str]]:
    """Give the person a confirmed authenticator (its first code a minute ago, so codes of
    now are new); returns (secret, recovery codes)."""
    from idp.directory.store import find_user_by_address
    from idp.extensions import db
    from idp.factors import service

    with app.test_request_context():
        user = find_user_by_address(email)
        before = datetime.now(UTC) - timedelta(seconds=60)
        enrolment = service.begin_totp_enrolment(user, before)
        code = pyotp.TOTP(enrolment.secret).at(before)
        codes = service.confirm_totp_enrolment(user, code, before, {}, enrolment.mark)
        db.session.commit()
        return enrolment.secret, codes


def secret_on_page(html: str) -> str:
    match = SECRET_ON_PAGE.search(html)
    assert match, html[:800]
    return match.group(1).replace(" ", "")


def recovery_codes_on_page(html: str) -> list[str]:
    return RECOVERY_CODE.findall(html)


def give_code(http, code: str):
    """Post a code on the factor page with the Flask test client `http`; the answer."""
    token = csrf_of(http, "/login")
    return http.post("/login/factor", data={"code": code, "csrf_token": token})


def sign_in_with_factor(http, secret: str, email: str = EMAIL, seconds: float = 0, **fields):
    """Password, then the authenticator's code; the answer to the code."""
    from helpers.pages import sign_in
    from helpers.people import PASSWORD

    first = sign_in(http, email, PASSWORD, **fields)
    assert first.status_code == 302, first.get_data(as_text=True)[:500]
    assert urlsplit(first.headers["Location"]).path == "/login/factor", first.headers["Location"]
    return give_code(http, code_for(secret, seconds))
