"""Attacks on passkeys, each refused with nothing stored changed (docs/passkeys.md).

Replayed answers, another person's credential, the wrong origin or relying party id, a
cloned authenticator (its counter goes back), a credential id taken from someone else,
forged requests (CSRF), someone else's passkey by id, account enumeration through the
sign-in options, hostile bodies.
"""

from __future__ import annotations

import copy
import json

import pytest
import sqlalchemy as sa
from helpers.authenticator import Authenticator
from helpers.db import count_rows
from helpers.pages import csrf_of
from helpers.passkeys import enrol, post_json, sign_in_options
from helpers.session_flow import signed_in_browser

from idp.audit import AuditEvent
from idp.directory.store import find_user_by_sub
from idp.extensions import db, transaction
from idp.passkeys import service
from idp.passkeys.models import Passkey, PasskeyUsedChallenge
from idp.passkeys.service import PasskeyError
from idp.security import PAGE_SESSION_COOKIE
from idp.sessions.models import SsoSession

BINH = "tran.thi.binh@haugiang.gov.vn"


@pytest.fixture
def an(app, make_user):
    """Nguyễn Văn An, signed in, with one passkey on `an.key`."""
    sub = make_user()
    http = signed_in_browser(app)
    key = Authenticator()
    assert enrol(http, key, name="An").status_code == 200
    http.key = key
    http.sub = sub
    return http


def _passkey_rows(app):
    with app.app_context():
        rows = db.session.execute(sa.select(Passkey).order_by(Passkey.id)).scalars()
        return [
            (p.id, p.user_id, p.credential_id, p.public_key, p.name, p.sign_count) for p in rows
        ]


def _session_count(app) -> int:
    return count_rows(app, SsoSession)


def _begin(http):
    """Options of a passkey-alone sign-in and the CSRF token used."""
    csrf = csrf_of(http, "/login")
    return sign_in_options(http, csrf).get_json()["publicKey"], csrf


def _finish(http, credential, csrf):
    return post_json(http, "/login/passkey", {"credential": credential}, csrf)


# ---------------------------------------------------------------- replay


def test_a_signed_answer_is_good_once(app, an):
    attacker = app.test_client()
    options, csrf = _begin(attacker)
    cookie_before = attacker.get_cookie(PAGE_SESSION_COOKIE).value
    answer = an.key.get(options)
    assert _finish(attacker, answer, csrf).status_code == 200
    sessions = _session_count(app)

    # Again from the same browser: its ceremony was taken by the first answer.
    again = _finish(attacker, answer, csrf)
    assert again.status_code == 400 and again.get_json()["reason"] == "expired"
    # Again with the page session as it was before the first answer (a copied cookie):
    # the challenge is known to be answered.
    attacker.set_cookie(PAGE_SESSION_COOKIE, cookie_before)
    replayed = _finish(attacker, answer, csrf)
    assert replayed.status_code == 400 and replayed.get_json()["reason"] == "replayed"
    assert _session_count(app) == sessions


def test_an_answer_to_someone_elses_challenge_is_refused(app, an):
    victim, attacker = app.test_client(), app.test_client()
    victim_options, _ = _begin(victim)
    _, csrf = _begin(attacker)
    answer = an.key.get(victim_options)
    refused = _finish(attacker, answer, csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "invalid"


def test_a_registration_answer_cannot_be_replayed(app, an):
    csrf = csrf_of(an, "/account/")
    options = post_json(an, "/account/passkeys/options", {}, csrf).get_json()["publicKey"]
    cookie_before = an.get_cookie(PAGE_SESSION_COOKIE).value
    answer = Authenticator().create(options)
    assert post_json(an, "/account/passkeys", {"credential": answer}, csrf).status_code == 200
    an.set_cookie(PAGE_SESSION_COOKIE, cookie_before)
    again = post_json(an, "/account/passkeys", {"credential": answer}, csrf)
    assert again.status_code == 400
    assert again.get_json()["reason"] in ("replayed", "already_registered")
    assert len(_passkey_rows(app)) == 2


# ---------------------------------------------------------------- whose credential


def test_someone_elses_passkey_is_not_a_second_factor_for_me(app, an, make_user):
    binh_sub = make_user(BINH)
    binh = signed_in_browser(app, BINH)
    binh_key = Authenticator()
    enrol(binh, binh_key)
    with app.test_request_context(), transaction():
        options = service.authentication_options(find_user_by_sub(an.sub))
        # Bình's authenticator answers An's challenge with Bình's credential.
        answer = binh_key.get({**options.public_key, "allowCredentials": []})
        with pytest.raises(PasskeyError, match="unknown_credential"):
            service.authenticate(options.ceremony, answer)
    assert binh_sub != an.sub


def test_a_user_handle_that_is_not_the_owners_is_refused(app, an, make_user):
    make_user(BINH)
    binh_sub_bytes = None
    with app.app_context():
        from idp.directory.store import find_user_by_address

        binh_sub_bytes = find_user_by_address(BINH).sub.encode()
    attacker = app.test_client()
    options, csrf = _begin(attacker)
    an.key.only().user_handle = binh_sub_bytes
    refused = _finish(attacker, an.key.get(options), csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "unknown_credential"


def test_an_unknown_credential_is_refused(app, an):
    stranger = Authenticator()
    with app.test_request_context():
        stranger.create(service.registration_options(find_user_by_sub(an.sub)).public_key)
    attacker = app.test_client()
    options, csrf = _begin(attacker)
    refused = _finish(attacker, stranger.get(options), csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "unknown_credential"


def test_a_disabled_accounts_passkey_signs_nobody_in(app, an):
    with app.app_context():
        user = find_user_by_sub(an.sub)
        user.status = "disabled"
        db.session.commit()
    attacker = app.test_client()
    options, csrf = _begin(attacker)
    refused = _finish(attacker, an.key.get(options), csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "disabled"


# ---------------------------------------------------------------- phishing


@pytest.mark.parametrize(
    "answer",
    [{"origin": "http://idp-test.evil.example"}, {"rp_id": "evil.example"}],
    ids=["wrong-origin", "wrong-rp-id"],
)
def test_an_answer_made_for_another_site_is_refused(app, an, answer):
    attacker = app.test_client()
    options, csrf = _begin(attacker)
    refused = _finish(attacker, an.key.get(options, **answer), csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "invalid"
    before = _passkey_rows(app)
    # Adding a passkey made on another site: refused too.
    response = enrol(an, Authenticator(), **answer)
    assert response.status_code == 400 and response.get_json()["reason"] == "invalid"
    assert _passkey_rows(app) == before


# ---------------------------------------------------------------- cloned authenticator


def test_a_counter_gone_back_is_a_clone_refused_and_audited(app, an):
    http = app.test_client()
    options, csrf = _begin(http)
    assert _finish(http, an.key.get(options), csrf).status_code == 200  # counter 1
    options, csrf = _begin(http)
    assert _finish(http, an.key.get(options), csrf).status_code == 200  # counter 2
    before, sessions = _passkey_rows(app), _session_count(app)

    clone = app.test_client()
    options, csrf = _begin(clone)
    refused = _finish(clone, an.key.get(options, sign_count=2), csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "cloned"
    options, csrf = _begin(clone)
    refused = _finish(clone, an.key.get(options, sign_count=1), csrf)
    assert refused.get_json()["reason"] == "cloned"
    assert _passkey_rows(app) == before and _session_count(app) == sessions
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "passkey_sign_count")
        ).scalars()
        assert [(e.outcome, e.detail["stored"], e.detail["received"]) for e in events] == [
            ("failure", 2, 2),
            ("failure", 2, 1),
        ]


# ---------------------------------------------------------------- credential id taken


def test_a_credential_id_already_registered_to_someone_else_is_refused(app, an, make_user):
    make_user(BINH)
    binh = signed_in_browser(app, BINH)
    before = _passkey_rows(app)
    stolen_id = an.key.only().credential_id
    response = enrol(binh, Authenticator(), credential_id=stolen_id)
    assert response.status_code == 400 and response.get_json()["reason"] == "already_registered"
    assert _passkey_rows(app) == before
    # An's passkey still signs An in.
    http = app.test_client()
    options, csrf = _begin(http)
    assert _finish(http, an.key.get(options), csrf).status_code == 200


# ---------------------------------------------------------------- forged requests


def test_every_passkey_action_needs_the_pages_csrf_token(app, an):
    ((passkey_id, *_),) = _passkey_rows(app)
    before = _passkey_rows(app)
    for path, body in (
        ("/account/passkeys/options", None),
        ("/account/passkeys", json.dumps({"credential": {}})),
        (f"/account/passkeys/{passkey_id}/rename", {"name": "hacked"}),
        (f"/account/passkeys/{passkey_id}/remove", {}),
        ("/login/passkey/options", None),
        ("/login/passkey", json.dumps({"credential": {}})),
    ):
        for token in (None, "forged"):
            headers = {"X-CSRFToken": token} if token else {}
            data = dict(body, csrf_token=token) if isinstance(body, dict) and token else body
            response = an.post(path, data=data, headers=headers)
            assert response.status_code == 400, (path, token)
    assert _passkey_rows(app) == before


def test_someone_elses_passkey_cannot_be_renamed_or_removed_by_id(app, an, make_user):
    make_user(BINH)
    binh = signed_in_browser(app, BINH)
    ((passkey_id, *_),) = _passkey_rows(app)
    before = _passkey_rows(app)
    csrf = csrf_of(binh, "/account/")
    for action, data in (("rename", {"name": "của Bình"}), ("remove", {})):
        response = binh.post(
            f"/account/passkeys/{passkey_id}/{action}", data={"csrf_token": csrf, **data}
        )
        assert response.headers["Location"].endswith("passkey=not_found#passkeys")
    for missing in (passkey_id + 1000, 0, 2**40):
        response = binh.post(f"/account/passkeys/{missing}/remove", data={"csrf_token": csrf})
        assert response.headers["Location"].endswith("passkey=not_found#passkeys")
    assert _passkey_rows(app) == before


# ---------------------------------------------------------------- enumeration


def test_sign_in_options_say_nothing_about_accounts_and_write_nothing(app, an):
    http = app.test_client()
    csrf = csrf_of(http, "/login")
    answers = []
    tables = (AuditEvent, PasskeyUsedChallenge, SsoSession, Passkey)
    before = [count_rows(app, t) for t in tables]
    for body in (
        {},
        {"email": "nguyen.van.an@haugiang.gov.vn"},
        {"email": "nobody@haugiang.gov.vn"},
        {"username": "nguyen.van.an@haugiang.gov.vn"},
    ):
        response = sign_in_options(http, csrf, body)
        assert response.status_code == 200
        options = response.get_json()["publicKey"]
        assert not options.get("allowCredentials")
        answers.append({k: v for k, v in options.items() if k != "challenge"})
    assert all(a == answers[0] for a in answers)
    assert [count_rows(app, t) for t in tables] == before


# ---------------------------------------------------------------- hostile bodies


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"credential": null}',
        b'{"credential": "x"}',
        b'{"credential": []}',
        b'{"credential": {"id": 5}}',
        b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}}',
        b'{"credential": {"id": "\\u0000", "rawId": "!!", "type": "public-key", '
        b'"response": {"clientDataJSON": "x", "authenticatorData": "x", "signature": "x"}}}',
        b"[" * 5000,
    ],
)
def test_hostile_bodies_get_a_clear_refusal(app, an, body):
    http = app.test_client()
    _, csrf = _begin(http)
    response = http.post(
        "/login/passkey", data=body, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 400 and response.get_json()["error"]
    csrf = csrf_of(an, "/account/")
    post_json(an, "/account/passkeys/options", {}, csrf)
    response = an.post(
        "/account/passkeys",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 400 and response.get_json()["error"]


def test_a_tampered_signature_is_refused(app, an):
    http = app.test_client()
    options, csrf = _begin(http)
    answer = copy.deepcopy(an.key.get(options))
    signature = bytearray(answer["response"]["signature"].encode())
    signature[-3] = ord("A") if signature[-3] != ord("A") else ord("B")
    answer["response"]["signature"] = signature.decode()
    refused = _finish(http, answer, csrf)
    assert refused.status_code == 400 and refused.get_json()["reason"] == "invalid"


def test_a_passkey_does_not_go_around_an_administrators_password_reset(app, an, runner):
    """`idp users reset-password` ends every session and holds sign-in until a new password
    is chosen: a passkey alone (perhaps one an intruder added) gets no session meanwhile."""
    from helpers.passkeys import passkey_sign_in

    result = runner.invoke(args=["users", "reset-password", an.sub])
    assert result.exit_code == 0, result.output
    before = _session_count(app)
    answer = passkey_sign_in(app.test_client(), an.key)
    assert answer.status_code == 403
    assert answer.get_json()["reason"] == "password_change"
    assert _session_count(app) == before
