"""A new password signs the person out of their relying parties: single sign-out
(back-channel logout tokens) for every session it ends (docs/accounts.md)."""

from __future__ import annotations

from helpers.logout_flow import run_worker
from helpers.mailbox import last_link
from helpers.oidc_flow import provider_jwks
from helpers.pages import csrf_of
from helpers.people import EMAIL, PASSWORD
from helpers.session_flow import sign_in_to, signed_in_browser

NEW = "Một-cụm-từ-mới-dễ-nhớ-2027"


def logout_sids(app, receiver, count: int) -> set[str]:
    from joserfc import jwt

    assert run_worker(app) == ["delivered"] * count
    received = receiver.wait_for(count)
    return {
        jwt.decode(r.logout_token, provider_jwks(app), algorithms=["RS256"]).claims["sid"]
        for r in received
    }


def sid_of(app, http) -> str:
    from idp.security import cookie_name
    from idp.sessions import SSO_COOKIE
    from idp.sessions.store import find_session

    handle = http.get_cookie(cookie_name(app, SSO_COOKIE)).value
    with app.app_context():
        return find_session(handle).sid


def test_changing_the_password_signs_the_other_devices_out_of_their_apps(
    app, make_user, make_rp, receiver
):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    laptop, phone = signed_in_browser(app), signed_in_browser(app)
    sign_in_to(laptop, "webmail")
    sign_in_to(phone, "webmail")
    phone_sid = sid_of(app, phone)
    data = {"current": PASSWORD, "password": NEW, "confirm": NEW}
    data["csrf_token"] = csrf_of(laptop, "/account/")
    assert laptop.post("/password/change", data=data).status_code == 302
    assert logout_sids(app, receiver, 1) == {phone_sid}
    assert laptop.get("/account/").status_code == 200


def test_a_reset_link_signs_every_device_out_of_its_apps(app, make_user, make_rp, receiver):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    laptop, phone = signed_in_browser(app), signed_in_browser(app)
    sign_in_to(laptop, "webmail")
    sign_in_to(phone, "webmail")
    sids = {sid_of(app, laptop), sid_of(app, phone)}
    http = app.test_client()
    http.post(
        "/password/forgot", data={"email": EMAIL, "csrf_token": csrf_of(http, "/password/forgot")}
    )
    path = last_link(app, EMAIL)
    data = {"password": NEW, "confirm": NEW, "csrf_token": csrf_of(http, path)}
    assert http.post(path, data=data).status_code == 302
    assert logout_sids(app, receiver, 2) == sids


def test_an_administrators_reset_signs_every_device_out(app, make_user, make_rp, receiver):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    laptop = signed_in_browser(app)
    sign_in_to(laptop, "webmail")
    sid = sid_of(app, laptop)
    result = app.test_cli_runner().invoke(args=["users", "reset-password", EMAIL])
    assert result.exit_code == 0, result.output
    assert logout_sids(app, receiver, 1) == {sid}
