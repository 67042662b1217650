"""A shared browser's device cookie is no way around the sign-in throttle (issue 8 review, F2).

The attack: the victim signs in on a shared browser and leaves. The attacker keeps the
browser's device cookie (only the session cookie is dropped) and loops: five wrong passwords
for the victim, counted against the device alone; one right sign-in to the attacker's own
account, which cleared that device counter and minted a fresh device id carrying the
victim's account over. 125 guesses in 4.9 s, none refused.

Now trust is per (browser, account): each account in the cookie has its own entry id and
counter, and a success rotates only the entry of the account that signed in.
"""

from __future__ import annotations

from helpers.people import EMAIL as PRIMARY
from helpers.people import PASSWORD
from helpers.throttle import ATTACKER_IP, VICTIM_IP, Browser

from idp.extensions import utcnow
from idp.interaction import service
from idp.interaction.device import DEVICE_COOKIE, read_device

ATTACKER_OWN = "tran.thi.binh@haugiang.gov.vn"
ATTACKER_PASSWORD = "Mật-khẩu-của-kẻ-tấn-công-2026"
ROUNDS = 5


def _entries(app, browser: Browser) -> dict[str, str]:
    with app.test_request_context():
        device = read_device(browser.http.get_cookie(DEVICE_COOKIE).value)
        return dict(device.entries)


def test_signing_in_to_ones_own_account_does_not_reset_another_accounts_counter(
    app, make_user, monkeypatch
):
    # The clock stands still: on a slow machine the loop outlasts the first 1-second delay,
    # which would let one more guess through and hide what the test counts.
    frozen = utcnow()
    monkeypatch.setattr(service, "utcnow", lambda: frozen)
    make_user(PRIMARY, password=PASSWORD)
    make_user(ATTACKER_OWN, password=ATTACKER_PASSWORD)
    shared = Browser(app, VICTIM_IP)
    assert shared.login().status_code == 302
    shared.logout()
    victims_cookie = shared.http.get_cookie(DEVICE_COOKIE).value

    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    checked = refused = 0
    for _round in range(ROUNDS):
        for _guess in range(free):
            status = shared.login(PRIMARY, "wrong-password").status_code
            assert status in (401, 429)
            checked += status == 401
            refused += status == 429
        assert shared.login(ATTACKER_OWN, ATTACKER_PASSWORD).status_code == 302
        shared.logout()

    # The free attempts, and the one failure that starts the first delay; no more.
    assert checked == free + 1, (checked, refused)
    assert refused == ROUNDS * free - checked
    # Sending the victim's older cookie value again is the same entry, the same counter.
    replay = Browser(app, ATTACKER_IP)
    replay.http.set_cookie(DEVICE_COOKIE, victims_cookie)
    assert replay.login(PRIMARY, "wrong-password").status_code == 429


def test_the_accounts_own_success_clears_only_its_entry(app, make_user):
    victim = make_user(PRIMARY, password=PASSWORD)
    other = make_user(ATTACKER_OWN, password=ATTACKER_PASSWORD)
    shared = Browser(app, VICTIM_IP)
    assert shared.login(ATTACKER_OWN, ATTACKER_PASSWORD).status_code == 302
    shared.logout()
    assert shared.login().status_code == 302
    shared.logout()
    before = _entries(app, shared)
    free = app.config["LOGIN_THROTTLE_FREE_ATTEMPTS"]
    for _ in range(free + 1):
        assert shared.login(ATTACKER_OWN, "wrong-password").status_code == 401
    assert shared.login(ATTACKER_OWN, ATTACKER_PASSWORD).status_code == 429
    # The victim signs in on the same browser: a fresh entry for the victim, and the other
    # account's entry (and its counter, still holding it back) as it was.
    assert shared.login().status_code == 302
    shared.logout()
    after = _entries(app, shared)
    assert after[victim] != before[victim]
    assert after[other] == before[other]
    assert shared.login(ATTACKER_OWN, ATTACKER_PASSWORD).status_code == 429
