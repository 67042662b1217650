"""The outbox and one delivery: claims and leases, back-off, outcomes, address checks."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from helpers.receiver import LogoutReceiver


def _queue(app, count: int = 3, client_id: str = "portal") -> list[int]:
    from idp.extensions import db, utcnow
    from idp.sessions import outbox

    with app.app_context():
        notices = [outbox.Notice(client_id, "sub-1", f"sid-{i}", "test") for i in range(count)]
        ids = outbox.enqueue(notices, retry_seconds=3600, now=utcnow())
        db.session.commit()
    return ids


def test_retry_delay_doubles_from_the_first_delay_up_to_the_cap():
    from idp.retries import retry_delay

    delays = [retry_delay(n, 5, 600).total_seconds() for n in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert retry_delay(10_000, 5, 600).total_seconds() == 600


def test_errors_are_one_short_printable_line():
    from idp.retries import clean_error

    assert clean_error("HTTP 400\r\n\x00 bad\tthing") == "HTTP 400 bad thing"
    assert len(clean_error("x" * 1000)) == 200


def test_a_claimed_row_is_nobody_elses_until_its_lease_ends(app, make_rp):
    from idp.extensions import utcnow
    from idp.sessions import outbox

    make_rp("portal")
    _queue(app, 3)
    with app.app_context():
        now = utcnow()
        first = outbox.claim(now=now, lease_seconds=60, limit=2)
        second = outbox.claim(now=now, lease_seconds=60, limit=5)
        assert [r.sid for r in first] == ["sid-0", "sid-1"]
        assert [r.sid for r in second] == ["sid-2"]
        assert outbox.claim(now=now, lease_seconds=60, limit=5) == []
        assert not outbox.has_due(now)
        # The first worker died: after its lease, its rows are due again.
        later = now + timedelta(seconds=61)
        assert outbox.has_due(later)
        third = outbox.claim(now=later, lease_seconds=60, limit=5)
        assert sorted(r.sid for r in third) == ["sid-0", "sid-1", "sid-2"]


def test_a_late_outcome_does_not_overwrite_the_worker_that_took_over(app, make_rp):
    from idp.extensions import db, utcnow
    from idp.sessions import outbox

    make_rp("portal")
    _queue(app, 1)
    with app.app_context():
        now = utcnow()
        [claimed] = outbox.claim(now=now, lease_seconds=1, limit=1)
        # What the first worker holds: its claim, now taken over.
        stale = claimed
        [fresh] = outbox.claim(now=now + timedelta(seconds=2), lease_seconds=60, limit=1)
        assert fresh.claimed_by != stale.claimed_by
        outbox.record(
            outbox.Result(stale, ok=True, http_status=200),
            now=now,
            first_delay_seconds=5,
            max_delay_seconds=600,
        )
        db.session.commit()
        [row] = outbox.get([fresh.id])
        assert row.status == "pending" and row.claimed_by == fresh.claimed_by


def test_only_rows_of_the_given_ids_are_claimed(app, make_rp):
    from idp.extensions import utcnow
    from idp.sessions import outbox

    make_rp("portal")
    ids = _queue(app, 3)
    with app.app_context():
        rows = outbox.claim(now=utcnow(), lease_seconds=60, limit=5, ids=[ids[1]])
        assert [r.id for r in rows] == [ids[1]]
        assert outbox.claim(now=utcnow(), lease_seconds=60, limit=5, ids=[]) == []


def test_a_disabled_client_or_one_without_a_uri_fails_without_retry(app, make_rp):
    from idp.clients.models import Client
    from idp.extensions import db
    from idp.sessions import outbox, worker

    make_rp("portal")
    make_rp("gone", backchannel_logout_uri="https://gone.example/bcl")
    ids = _queue(app, 1) + _queue(app, 1, "gone")
    with app.app_context():
        db.session.execute(
            Client.__table__.update().where(Client.client_id == "gone").values(active=False)
        )
        db.session.commit()
        assert worker.deliver_ids(ids) == ["failed", "failed"]
        rows = outbox.get(ids)
        assert rows[0].last_error == "the client no longer has a backchannel_logout_uri"
        assert rows[1].last_error == "the client is disabled or gone"


def test_finished_rows_are_removed_after_the_keep_period(app, make_rp, receiver):
    from idp.extensions import utcnow
    from idp.sessions import outbox, worker

    make_rp("portal", backchannel_logout_uri=receiver.url())
    ids = _queue(app, 2)
    with app.app_context():
        worker.deliver_ids(ids[:1])
        keep = app.config["LOGOUT_DELIVERY_KEEP_SECONDS"]
        assert worker.cleanup(utcnow()) == 0
        assert worker.cleanup(utcnow() + timedelta(seconds=keep + 1)) == 1
        assert [r.status for r in outbox.get(ids)] == ["pending"]  # never a pending one


@pytest.mark.parametrize(
    ("issuer", "value", "expected"),
    [
        ("http://127.0.0.1:5000", "auto", True),
        ("http://localhost:5000", "auto", True),
        ("https://sso.haugiang.gov.vn", "auto", False),
        ("https://sso.haugiang.gov.vn", "true", True),
        ("http://127.0.0.1:5000", False, False),
        ("https://sso.haugiang.gov.vn", True, True),
    ],
)
def test_private_targets_setting(issuer, value, expected):
    from idp.outbound import allow_private_targets

    config = {"ISSUER": issuer, "OUTBOUND_ALLOW_PRIVATE_TARGETS": value}
    assert allow_private_targets(config) is expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("203.113.131.1", True),
        ("2402:800::1", True),
    ],
)
def test_which_addresses_are_public(address, public):
    from idp.outbound import is_public_address

    assert is_public_address(address) is public


def test_a_relying_party_that_never_answers_times_out():
    from idp.sessions.delivery import post_logout_token

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        outcome = post_logout_token(
            f"http://127.0.0.1:{port}/bcl",
            "t",
            allow_private=True,
            connect_timeout=0.5,
            total_timeout=0.5,
        )
    finally:
        for conn, _addr in accepted:
            conn.close()
        listener.close()
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == "127.0.0.1 did not answer within 0.5 s"


def test_unusable_uris_fail_for_good():
    from idp.sessions.delivery import post_logout_token

    for uri in ("ftp://rp.example/bcl", "http:///nohost", "http://rp.example:99999/x"):
        outcome = post_logout_token(
            uri, "t", allow_private=True, connect_timeout=1, total_timeout=1
        )
        assert not outcome.ok and outcome.permanent, uri


def test_an_unknown_host_is_retried():
    from idp.sessions.delivery import post_logout_token

    outcome = post_logout_token(
        "https://no-such-host.invalid/bcl",
        "t",
        allow_private=False,
        connect_timeout=1,
        total_timeout=1,
    )
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == "cannot resolve no-such-host.invalid"


def test_a_204_answer_is_a_delivery():
    from idp.sessions.delivery import post_logout_token

    server = LogoutReceiver()
    server.status = 204
    try:
        outcome = post_logout_token(
            server.url(), "t.o.k", allow_private=True, connect_timeout=1, total_timeout=2
        )
    finally:
        server.stop()
    assert outcome.ok and outcome.http_status == 204
    assert server.tokens() == ["t.o.k"]


def test_a_slow_relying_party_does_not_hold_up_the_others(app, make_rp):
    """One call waiting on a slow relying party takes one slot; the rest keep flowing."""
    from idp.sessions import worker

    slow, fast = LogoutReceiver(), LogoutReceiver()
    slow.delay = 2.0
    try:
        make_rp("slow", backchannel_logout_uri=slow.url())
        make_rp("fast", backchannel_logout_uri=fast.url())
        _queue(app, 1, "slow")
        _queue(app, 20, "fast")
        with app.app_context():
            stats = worker.run(once=True, concurrency=2)
        assert stats.statuses == {"delivered": 21}
        [slow_done] = slow.wait_for(1)
        fast_done = fast.wait_for(20)
        # Every fast delivery was made while the slow call was still waiting.
        assert max(r.at for r in fast_done) < slow_done.at
    finally:
        slow.stop()
        fast.stop()
