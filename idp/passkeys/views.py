"""Passkey pages: adding, renaming and removing them on the account page ("Bảo mật"), and
signing in with a passkey alone on the sign-in page.

The two ceremonies run in the browser (idp/static/passkeys.js): it asks for options
(a JSON POST), calls navigator.credentials.create() or .get(), and posts the answer back.
Every POST carries the page's CSRF token (a form field, or the X-CSRFToken header of the
script's requests), checked by Flask-WTF before any of these views runs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from idp import audit
from idp.extensions import commit, rollback, utcnow
from idp.factors import service as factors_service
from idp.jsontext import InvalidJson, loads
from idp.pages import safe_next
from idp.passkeys import ceremonies, service
from idp.passkeys.pages import error_message
from idp.passkeys.service import PasskeyError
from idp.sessions import current_session, set_session_cookie
from idp.sessions.devices import describe_device
from idp.sessions.logout import REASON_REPLACED, end_sessions
from idp.sessions.store import reauthenticate, start_session

bp = Blueprint("passkeys", __name__)

BODY_MAX_BYTES = 96 * 1024
BODY_MAX_DEPTH = 8


def _json_body() -> dict[str, Any]:
    try:
        body = loads(request.get_data(), max_length=BODY_MAX_BYTES, max_depth=BODY_MAX_DEPTH)
    except InvalidJson:
        return {}
    return body if isinstance(body, dict) else {}


def _refused(error: PasskeyError, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=error_message(error), reason=error.reason), status


def _signed_out() -> tuple[Response, int]:
    return jsonify(error=_("Phiên đăng nhập đã kết thúc. Vui lòng đăng nhập lại.")), 401


def _back_to_account(notice: str) -> Response:
    return redirect(url_for("account.index", passkey=notice) + "#passkeys")


# ---------------------------------------------------------------- the account page


@bp.post("/account/passkeys/options")
def registration_options():
    sso = current_session()
    if sso is None:
        return _signed_out()
    try:
        options = ceremonies.begin_registration(sso.user)
    except PasskeyError as exc:
        return _refused(exc)
    return jsonify(publicKey=options)


@bp.post("/account/passkeys")
def add():
    sso = current_session()
    if sso is None:
        return _signed_out()
    body = _json_body()
    name = body.get("name") if isinstance(body.get("name"), str) else None
    default_name = describe_device(request.user_agent.string) or _("Khóa truy cập")
    try:
        passkey = ceremonies.finish_registration(
            sso.user, body.get("credential"), name, default_name
        )
        commit()
    except PasskeyError as exc:
        rollback()
        return _refused(exc)
    return jsonify(id=passkey.id, name=passkey.name, redirect=_account_url("added"))


def _account_url(notice: str) -> str:
    return url_for("account.index", passkey=notice) + "#passkeys"


@bp.post("/account/passkeys/<int:passkey_id>/rename")
def rename(passkey_id: int):
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=url_for("account.index")))
    try:
        service.rename(
            sso.user, passkey_id, request.form.get("name", ""), origin=audit.request_origin()
        )
        commit()
    except PasskeyError as exc:
        rollback()
        return _back_to_account(exc.reason)
    return _back_to_account("renamed")


@bp.post("/account/passkeys/<int:passkey_id>/remove")
def remove(passkey_id: int):
    """Removing a passkey, like removing the authenticator app, needs a second factor given
    in this session within FACTOR_FRESH_SECONDS (docs/factors.md); otherwise the person
    gives one on the factor page first (step-up, no password) and presses "Xóa" again.
    Removing the last second factor is allowed: who must have one is taken through
    enrolment at the next sign-in."""
    sso = current_session()
    account = url_for("account.index") + "#passkeys"
    if sso is None:
        return redirect(url_for("interaction.login", next=account))
    if service.passkey_of(sso.user, passkey_id) is None:
        # Someone else's or a missing one: "not found" alike, before any step-up.
        return _back_to_account("not_found")
    seconds = current_app.config["FACTOR_FRESH_SECONDS"]
    if not factors_service.is_fresh(sso.auth_times, utcnow(), seconds):
        query = urlencode({"step_up": "1", "next": account})
        return redirect(url_for("interaction.login") + "?" + query)
    try:
        service.remove(sso.user, passkey_id, origin=audit.request_origin())
        commit()
    except PasskeyError as exc:
        rollback()
        return _back_to_account(exc.reason)
    return _back_to_account("removed")


# ---------------------------------------------------------------- signing in


@bp.post("/login/passkey/options")
def sign_in_options():
    """Options for a passkey alone: the same for everyone (no address is asked for, no
    credential is listed), so the answer tells nothing about any account."""
    if not service.sign_in_available():
        return jsonify(error=error_message(PasskeyError("unavailable"))), 404
    return jsonify(publicKey=ceremonies.begin_authentication(None))


@bp.post("/login/passkey")
def sign_in():
    if not service.sign_in_available():
        return jsonify(error=error_message(PasskeyError("unavailable"))), 404
    body = _json_body()
    try:
        result = ceremonies.finish_authentication(body.get("credential"))
    except PasskeyError as exc:
        # Nothing was written but, for a signed answer with a counter gone back (a cloned
        # key), its audit event.
        commit()
        return _refused(exc)
    if result.user.must_change_password:
        # An administrator's reset (idp users reset-password) holds every sign-in until a
        # new password is chosen; a passkey alone must not go around it.
        return _refused(PasskeyError("password_change"), 403)
    target = body.get("next")
    response = jsonify(redirect=safe_next(target if isinstance(target, str) else None))
    _start_or_renew(response, result, remember=body.get("remember") is True)
    return response


def _start_or_renew(response: Response, result: service.Authentication, remember: bool) -> None:
    """The browser's SSO session after a passkey sign-in: the same person's session is
    re-authenticated (new auth_time and handle), anyone else's replaced."""
    origin = audit.request_origin()
    user = result.user
    user.last_login_at = utcnow()
    audit.record(
        "login",
        actor=user.sub,
        subject=user.sub,
        detail={"amr": result.amr, "method": "passkey", "passkey_id": result.passkey.id},
        **origin,
    )
    existing = current_session()
    if existing is not None and existing.user_id == user.id:
        # The acr and amr are what the session's methods reach (idp.assurance).
        handle = reauthenticate(existing, amr=result.amr)
        commit()
        set_session_cookie(response, handle, existing.remember)
        return
    if existing is not None:
        end_sessions([existing.id], reason=REASON_REPLACED)
    handle, _sso = start_session(user, amr=result.amr, remember=remember, **origin)
    commit()
    set_session_cookie(response, handle, remember)
