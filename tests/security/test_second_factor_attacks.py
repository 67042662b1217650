"""Attacks on the second factor: replayed codes (also two at once), guessing the 6 digits,
a pending sign-in reused or carried elsewhere, skipping the factor page, claiming a level
not performed, removing a factor without it, CSRF, and reading the secret from the
database."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from helpers.factors import code_for, enrol, give_code, sign_in_with_factor
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.pages import csrf_of, sign_in
from helpers.people import EMAIL

OTHER = "tran.thi.binh@haugiang.gov.vn"


def wrong_code(secret: str) -> str:
    near = {code_for(secret, s) for s in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def at_once(app, count: int, work) -> list:
    """Run `work()` in `count` threads, each in its own app context and transaction, all
    released together; their results."""
    from idp.extensions import db

    barrier = threading.Barrier(count)
    results: list = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.test_request_context():
                barrier.wait(10)
                results.append(work())
                db.session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return results


def test_the_same_code_sent_twice_at_once_is_accepted_once(app, make_user):
    from idp.directory.store import find_user_by_address
    from idp.factors import service

    make_user()
    secret, _ = enrol(app)
    code = code_for(secret)

    def check() -> bool:
        user = find_user_by_address(EMAIL)
        return service.check_totp(user, code, datetime.now(UTC))

    assert sorted(at_once(app, 4, check)) == [False, False, False, True]


def test_a_recovery_code_redeemed_twice_at_once_works_once(app, make_user):
    from idp.directory.store import find_user_by_address
    from idp.factors import service

    make_user()
    _secret, codes = enrol(app)

    def check() -> bool:
        user = find_user_by_address(EMAIL)
        return service.check_recovery_code(user, codes[3], datetime.now(UTC))

    assert sorted(at_once(app, 4, check)) == [False, False, False, True]


def test_an_older_code_after_a_newer_one_is_refused(app, make_user):
    from idp.directory.store import find_user_by_address
    from idp.extensions import db
    from idp.factors import service

    make_user()
    secret, _ = enrol(app)
    now = datetime.now(UTC)
    with app.test_request_context():
        user = find_user_by_address(EMAIL)
        assert service.check_totp(user, pyotp.TOTP(secret).at(now + timedelta(seconds=30)), now)
        assert not service.check_totp(user, pyotp.TOTP(secret).at(now), now)
        db.session.commit()


@pytest.mark.parametrize(
    "app_config",
    [{"FACTOR_MAX_ATTEMPTS": 3, "LOGIN_THROTTLE_FREE_ATTEMPTS": 5}],
)
def test_guessing_codes_is_held_back_across_pending_sign_ins(app, client, make_user):
    """Each pending sign-in allows a few wrong codes; signing in again with the password to
    get more does not reset the count: the account's second-factor counter holds back the
    guesser with growing delays (no permanent lock-out)."""
    make_user()
    secret, _ = enrol(app)
    wrong = wrong_code(secret)
    for _round in range(2):
        assert sign_in(client).headers["Location"] == "/login/factor"
        for _ in range(3):
            assert give_code(client, wrong).status_code == 401
    assert sign_in(client).headers["Location"] == "/login/factor"
    held = give_code(client, code_for(secret))
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    assert "Đăng nhập sai quá nhiều lần" in held.get_data(as_text=True)


def test_a_pending_sign_in_is_finished_once(app, client, make_user):
    make_user()
    secret, _ = enrol(app)
    sign_in(client)
    handle = client.get_cookie("idp_pending").value
    assert give_code(client, code_for(secret)).status_code == 302
    # The handle replayed (from another browser) is worth nothing.
    thief = app.test_client()
    thief.set_cookie("idp_pending", handle)
    assert give_code(thief, code_for(secret, 30)).status_code == 400
    assert thief.get("/account/").status_code == 302


def test_a_pending_sign_in_checks_its_own_persons_codes(app, client, make_user):
    """The pending sign-in belongs to the person whose password was given: another
    person's code (say, the attacker's own authenticator) does not finish it."""
    make_user()
    make_user(OTHER, given_name="Bình")
    enrol(app)
    other_secret, _ = enrol(app, OTHER)
    sign_in(client, EMAIL)
    assert give_code(client, code_for(other_secret)).status_code == 401


def test_a_step_up_carried_to_another_browser_does_nothing(app, make_user):
    make_user()
    victim = app.test_client()
    sign_in(victim)
    secret, _ = enrol(app)
    victim.get("/login?step_up=1&next=/account/")
    handle = victim.get_cookie("idp_pending").value
    attacker = app.test_client()
    attacker.set_cookie("idp_pending", handle)
    assert give_code(attacker, code_for(secret)).status_code == 400
    assert attacker.get("/account/").status_code == 302


def test_skipping_the_factor_page_gives_no_session(app, client, make_user):
    make_client_and_user(app, make_user)
    secret, _ = enrol(app)
    rp = RelyingParty(client)
    first = rp.authorize(nonce="n")
    sign_in(client, next=query_of(first.headers["Location"])["next"])
    # Straight to the authorization endpoint, to the account page: not signed in.
    assert urlsplit(rp.authorize(nonce="n").headers["Location"]).path == "/login"
    assert urlsplit(client.get("/account/").headers["Location"]).path == "/login"
    assert secret  # the factor was never given


def make_client_and_user(app, make_user):
    from helpers.clients import make_client

    make_user()
    make_client(app)


def test_a_password_sign_in_never_claims_the_second_level(app, client, make_user):
    """Dropping the enrolment flag from the sign-in form (or adding acr to the URL) gives a
    password-only session: an essential level 2 then fails, it is never claimed."""
    make_client_and_user(app, make_user)
    rp = RelyingParty(client)
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:hg:loa:2"]}}})
    asked = rp.authorize(nonce="n", claims=claims)
    next_url = query_of(asked.headers["Location"])["next"]
    signed = sign_in(client, next=next_url)  # no enrol=1
    assert signed.status_code == 302 and signed.headers["Location"].startswith("/oauth2/")
    back = client.get(signed.headers["Location"])
    assert back.headers["Location"].startswith(REDIRECT_URI)
    assert query_of(back.headers["Location"])["error"] == "unmet_authentication_requirements"
    # The session says what was done.
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        [sso] = db.session.execute(sa.select(SsoSession)).scalars().all()
        assert sso.acr == "urn:hg:loa:1" and sso.amr == ["pwd"]


def test_the_session_level_cannot_be_asked_for_in_the_url(app, client, make_user):
    make_user()
    sign_in(client, next="/account/")
    client.get("/login?acr=urn:hg:loa:2&step_up=1&next=/account/")
    from idp.extensions import db
    from idp.sessions.models import SsoSession

    with app.app_context():
        [sso] = db.session.execute(sa.select(SsoSession)).scalars().all()
        assert sso.acr == "urn:hg:loa:1"


def test_removing_a_factor_without_a_fresh_second_factor(app, client, make_user):
    make_user()
    sign_in(client)  # a password-only session (a stolen cookie, say)
    enrol(app)
    answer = client.post(
        "/account/security/totp/remove", data={"csrf_token": csrf_of(client, "/account/")}
    )
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["step_up"] == ["1"]
    from idp.extensions import db
    from idp.factors.models import TotpFactor

    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(TotpFactor)).scalar() == 1


@pytest.mark.parametrize(
    "path", ["/account/security/totp/remove", "/account/security/recovery-codes"]
)
def test_cross_site_posts_are_refused(app, client, make_user, path):
    make_user()
    secret, _ = enrol(app)
    sign_in_with_factor(client, secret)
    answer = client.post(path, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 400


def test_cross_site_enrolment_is_refused(app, client, make_user):
    """A forged confirmation (no CSRF token) enrols nothing, even with the right code."""
    from helpers.factors import secret_on_page

    from idp.extensions import db
    from idp.factors.models import TotpFactor

    make_user()
    sign_in(client)
    secret = secret_on_page(client.get("/account/security/totp").get_data(as_text=True))
    answer = client.post("/account/security/totp", data={"code": code_for(secret)})
    assert answer.status_code == 400
    with app.app_context():
        [factor] = db.session.execute(sa.select(TotpFactor)).scalars().all()
        assert factor.confirmed_at is None


def test_the_secret_cannot_be_read_from_the_database(app, make_user):
    from idp import sealing
    from idp.extensions import db
    from idp.factors import totp
    from idp.factors.models import RecoveryCode, TotpFactor

    make_user()
    make_user(OTHER, given_name="Bình")
    secret, codes = enrol(app)
    enrol(app, OTHER)
    with app.test_request_context():
        rows = db.session.execute(sa.select(TotpFactor).order_by(TotpFactor.id)).scalars().all()
        stored = rows[0].secret_encrypted
        assert secret not in stored and secret.lower() not in stored.lower()
        assert totp.open_secret(stored, rows[0].user_id) == secret
        # Under another key, or moved to another person's row, it does not open.
        with pytest.raises(sealing.UnsealError):
            sealing.unseal(
                "another key" * 4,
                stored,
                f"totp:{rows[0].user_id}".encode(),
                salt=totp.SALT,
                info=totp.INFO,
            )
        with pytest.raises(sealing.UnsealError):
            totp.open_secret(stored, rows[1].user_id)
        hashes = [r.code_hash for r in db.session.execute(sa.select(RecoveryCode)).scalars()]
        assert all(
            code not in h and code.replace("-", "") not in h for code in codes for h in hashes
        )


def test_abandoned_pending_sign_ins_are_removed_by_cleanup(app, client, make_user, runner):
    from helpers.db import move_back

    from idp.extensions import db
    from idp.factors.models import PendingSignIn

    make_user()
    enrol(app)
    sign_in(client)
    sign_in(app.test_client())
    move_back(app, PendingSignIn, expires_at=2 * 86400)
    sign_in(client)  # a live one stays
    result = runner.invoke(args=["cleanup", "--json"])
    assert json.loads(result.output)["pending_sign_ins"] == 2
    with app.app_context():
        assert (
            db.session.execute(sa.select(sa.func.count()).select_from(PendingSignIn)).scalar() == 1
        )


def test_a_changed_key_encryption_key_is_no_server_error(app, client, make_user, caplog):
    """Secrets sealed under a former key cannot be opened: codes fail (recovery codes still
    work), and nothing answers 500."""
    from idp.extensions import db
    from idp.factors.models import TotpFactor

    make_user()
    secret, codes = enrol(app)
    with app.app_context():
        factor = db.session.execute(sa.select(TotpFactor)).scalar_one()
        factor.secret_encrypted = "v1:" + factor.secret_encrypted[3:][::-1]
        db.session.commit()
    sign_in(client)
    assert give_code(client, code_for(secret)).status_code == 401
    assert give_code(client, codes[0]).status_code == 302


def test_a_secret_planted_before_the_victim_enrols_is_never_shown_nor_confirmed(app, make_user):
    """The attacker knows the password: they start an enrolment (`/login?enrol=1`) and keep
    its secret, unconfirmed. The victim then enrols from the account page: they are shown a
    secret of their own, and the attacker's codes never pass the factor step."""
    from helpers.factors import secret_on_page

    make_user()
    attacker, victim = app.test_client(), app.test_client()
    assert sign_in(attacker, enrol="1").status_code == 302
    planted = secret_on_page(attacker.get("/login/factor").get_data(as_text=True))
    sign_in(victim)
    own = secret_on_page(victim.get("/account/security/totp").get_data(as_text=True))
    assert own != planted
    # The victim's confirmation enrols the victim's secret; the planted one is worth nothing,
    # not even in the attacker's own browser, whose pending sign-in now asks for a code.
    csrf = csrf_of(victim, "/account/security/totp")
    done = victim.post("/account/security/totp", data={"code": code_for(own), "csrf_token": csrf})
    assert done.status_code == 200
    assert give_code(attacker, code_for(planted)).status_code == 401
    later = app.test_client()
    assert sign_in(later).status_code == 302
    assert give_code(later, code_for(planted)).status_code == 401


def test_a_secret_replaced_by_another_browser_is_not_confirmed_with_its_code(app, make_user):
    """Between the victim's page and their code, someone else (with the password) starts an
    enrolment: the victim's code is refused and they are shown a new secret, never the
    other browser's."""
    from helpers.factors import secret_on_page

    make_user()
    victim, attacker = app.test_client(), app.test_client()
    sign_in(victim)
    shown = secret_on_page(victim.get("/account/security/totp").get_data(as_text=True))
    sign_in(attacker, enrol="1")
    theirs = secret_on_page(attacker.get("/login/factor").get_data(as_text=True))
    csrf = csrf_of(victim, "/account/")
    answer = victim.post(
        "/account/security/totp", data={"code": code_for(shown), "csrf_token": csrf}
    )
    assert answer.status_code == 401
    again = secret_on_page(answer.get_data(as_text=True))
    assert again not in (shown, theirs)
