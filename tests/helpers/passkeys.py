"""Passkey ceremonies with the Flask test client, answered by a software authenticator
(helpers.authenticator): the requests the page's script (idp/static/passkeys.js) makes."""

from __future__ import annotations

import json
from typing import Any

from helpers.authenticator import Authenticator
from helpers.pages import csrf_of


def post_json(http, path: str, body: dict[str, Any] | None, csrf: str):
    return http.post(
        path,
        data=json.dumps(body or {}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )


def registration_options(http, csrf: str | None = None) -> dict[str, Any]:
    csrf = csrf or csrf_of(http, "/account/")
    response = post_json(http, "/account/passkeys/options", {}, csrf)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["publicKey"]


def enrol(http, authenticator: Authenticator, name: str | None = None, **answer: Any):
    """Add a passkey from the account page of the signed-in browser `http`; the answer."""
    csrf = csrf_of(http, "/account/")
    options = registration_options(http, csrf)
    credential = authenticator.create(options, **answer)
    body: dict[str, Any] = {"credential": credential}
    if name is not None:
        body["name"] = name
    return post_json(http, "/account/passkeys", body, csrf)


def sign_in_options(http, csrf: str | None = None, body: dict[str, Any] | None = None):
    csrf = csrf or csrf_of(http, "/login")
    return post_json(http, "/login/passkey/options", body or {}, csrf)


def passkey_sign_in(http, authenticator: Authenticator, next: str | None = None, **answer: Any):
    """Press "Đăng nhập bằng khóa truy cập" on the sign-in page; the server's answer."""
    csrf = csrf_of(http, "/login")
    options = sign_in_options(http, csrf).get_json()["publicKey"]
    credential = authenticator.get(options, **answer)
    body: dict[str, Any] = {"credential": credential}
    if next is not None:
        body["next"] = next
    return post_json(http, "/login/passkey", body, csrf)


# ---------------------------------------------------------------- the factor page


def factor_options(http, csrf: str | None = None):
    """Press "Dùng khóa truy cập" on the factor page: the server's answer to the options."""
    csrf = csrf or csrf_of(http, "/login/factor")
    return post_json(http, "/login/factor/passkey/options", {}, csrf)


def factor_passkey(http, authenticator: Authenticator, **answer: Any):
    """The pending person's passkey as the second factor (or step-up) on the factor page;
    the server's answer (JSON with `redirect` on success)."""
    csrf = csrf_of(http, "/login/factor")
    options = factor_options(http, csrf)
    assert options.status_code == 200, options.get_data(as_text=True)[:300]
    credential = authenticator.get(options.get_json()["publicKey"], **answer)
    return post_json(http, "/login/factor/passkey", {"credential": credential}, csrf)


def enrol_while_signing_in(http, authenticator: Authenticator):
    """Add a first passkey on the enrolment page of a pending sign-in; the answer."""
    csrf = csrf_of(http, "/login/factor")
    options = post_json(http, "/login/factor/passkey/new/options", {}, csrf)
    assert options.status_code == 200, options.get_data(as_text=True)[:300]
    credential = authenticator.create(options.get_json()["publicKey"])
    return post_json(http, "/login/factor/passkey/new", {"credential": credential}, csrf)
