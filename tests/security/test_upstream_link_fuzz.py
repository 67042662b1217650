"""The link step, the linked-accounts removal, the return from the upstream's logout and
the back-channel logout endpoint, given hostile values: an answer below 500 and nothing
logged at ERROR, with and without a pending link or a session in the browser.
(tests/security/test_no_server_errors.py lists these routes as fuzzed here.)

Against the national portal stand-in on loopback, so the pending link is a real one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from helpers.live import EMAIL, PASSWORD, Browser, LiveIdp, form_fields
from helpers.national_portal import (
    UPSTREAM,
    NationalPortal,
    national_portal_ready,
    pre_link,
    start_brokered,
    through_portal,
)

HOSTILE = [
    "",
    " ",
    "x" * 20000,
    "\x00",
    "a\x00b",
    "\r\n",
    "//evil.example/",
    "/\\evil.example",
    "javascript:alert(1)",
    "Đăng nhập",
    "-1",
    "99999999999999999999",
]
RAW = ["%ff%fe", "%ed%a0%80", "%", "%zz"]
BASE = f"/login/upstream/{UPSTREAM}"
# path -> (methods, parameters)
ROUTES = {
    f"{BASE}/link/prove": (("GET",), ["next"]),
    f"{BASE}/link/confirm": (("GET", "POST"), ["next", "csrf_token"]),
    f"{BASE}/link/email": (("GET", "POST"), ["next", "csrf_token"]),
    f"{BASE}/link/create": (("GET", "POST"), ["next", "csrf_token"]),
    f"{BASE}/logged-out": (("GET",), ["state"]),
    f"{BASE}/backchannel-logout": (("POST",), ["logout_token"]),
    "/account/upstream-links/1/remove": (("POST",), ["csrf_token"]),
}


@pytest.fixture
def brokered(sqlite_url, caplog) -> Iterator[tuple[LiveIdp, NationalPortal]]:
    national_portal_ready()
    caplog.set_level(logging.WARNING)
    idp, portal = start_brokered(
        sqlite_url,
        trust_verified_email=True,
        create_accounts=True,
        create_in_unit="UBND-HG",
    )
    try:
        yield idp, portal
    finally:
        portal.stop()
        idp.stop()


def browsers(idp: LiveIdp) -> list[tuple[str, Browser]]:
    """A browser with nothing, one with a pending link, one signed in (linked)."""
    plain, pending, signed_in = Browser(), Browser(), Browser()
    through_portal(pending, idp)
    signed_in.sign_in(signed_in.get(idp.issuer + "/login"), EMAIL, PASSWORD)
    return [("plain", plain), ("pending", pending), ("signed-in", signed_in)]


def send(browser: Browser, idp: LiveIdp, method: str, path: str, name: str, value: str):
    url = idp.issuer + path
    if method == "GET":
        return browser.http.get(url, params={name: value}, timeout=15, allow_redirects=False)
    token = form_fields(browser.get(idp.issuer + "/login").text, "/login")["csrf_token"]
    data = {"csrf_token": token, name: value}
    return browser.http.post(
        url, params={"next": value}, data=data, timeout=15, allow_redirects=False
    )


def test_hostile_values_never_break_the_link_and_sign_out_pages(brokered, caplog):
    idp, _portal = brokered
    sub = idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
    pre_link(idp, sub, value="079000000009")
    problems = []
    for label, browser in browsers(idp):
        for path, (methods, names) in ROUTES.items():
            for method in methods:
                for name in names:
                    for value in HOSTILE:
                        answer = send(browser, idp, method, path, name, value)
                        if answer.status_code >= 500:
                            problems.append(f"{answer.status_code} {label} {method} {path} {name}")
                    for raw in RAW:
                        answer = browser.http.request(
                            method, f"{idp.issuer}{path}?{name}={raw}", timeout=15
                        )
                        if answer.status_code >= 500:
                            problems.append(f"{answer.status_code} {label} {method} {path} {raw}")
        browser.close()
    for path in (
        f"{BASE}/link/confirm".replace(UPSTREAM, "nobody"),
        "/login/upstream/%00/logged-out",
    ):
        if Browser().get(idp.issuer + path).status_code >= 500:
            problems.append(path)
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not problems and not logged, (problems[:10], [r.getMessage() for r in logged][:5])
