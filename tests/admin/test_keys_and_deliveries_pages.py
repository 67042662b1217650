"""The console's keys page (list, rotate) and deliveries page (logout and mail outboxes,
retry now), on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers.admin import make_admin
from helpers.clients import insert_client
from helpers.pages import csrf_of


@pytest.fixture
def app_config() -> dict:
    # Deliveries stay where the test put them: no background attempt after the commit.
    return {"LOGOUT_DELIVER_IMMEDIATELY": False}


def _audit(app, action: str):
    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail).where(
                AuditEvent.action == action
            )
        )
        return [tuple(r) for r in rows]


def _keys(app):
    from idp.keys.ring import list_keys

    with app.app_context():
        return [(k.kid, k.alg, k.state) for k in list_keys()]


def test_keys_page_lists_the_ring(app, client, make_user):
    make_admin(app, make_user, client)
    page = client.get("/admin/keys")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for kid, _alg, _state in _keys(app):
        assert kid in html
    assert "hiện tại" in html and "kế tiếp" in html


def test_rotation_waits_for_publication_unless_forced(app, client, make_user):
    sub = make_admin(app, make_user, client)
    client.get("/admin/keys")
    before = {state: kid for kid, alg, state in _keys(app) if alg == "RS256"}
    path = "/admin/keys/rotate?alg=RS256"
    assert 'id="confirm"' in client.get(path).get_data(as_text=True)
    # The next key was published a moment ago: relying parties may not know it yet.
    early = client.post(path, data={"csrf_token": csrf_of(client, path)})
    assert early.status_code == 409
    assert 'id="rotate-error"' in early.get_data(as_text=True)
    assert {s: k for k, a, s in _keys(app) if a == "RS256"} == before
    forced = "/admin/keys/rotate?alg=RS256&force=1"
    done = client.post(forced, data={"csrf_token": csrf_of(client, forced)})
    assert done.status_code == 302
    after = [(k, s) for k, a, s in _keys(app) if a == "RS256"]
    assert (before["next"], "current") in after and (before["current"], "retired") in after
    [(actor, subject, detail)] = _audit(app, "keys.rotate")
    assert (actor, subject) == (sub, before["next"])
    assert detail["forced"] is True and detail["retired"] == before["current"]


def test_rotation_of_an_unconfigured_algorithm_goes_back_to_the_list(app, client, make_user):
    make_admin(app, make_user, client)
    path = "/admin/keys/rotate?alg=HS256"
    assert client.post(path, data={"csrf_token": csrf_of(client, "/logout")}).status_code == 302
    assert _audit(app, "keys.rotate") == []


def _failed_delivery(app, client_id: str, status: str = "gave_up") -> int:
    from idp.extensions import db, utcnow
    from idp.sessions import outbox
    from idp.sessions.models import LogoutDelivery

    with app.test_request_context():
        now = utcnow() - timedelta(days=2)
        [row_id] = outbox.enqueue(
            [outbox.Notice(client_id, "sub-" + client_id, "sid-" + client_id, "logout")],
            retry_seconds=60,
            now=now,
        )
        db.session.execute(
            sa.update(LogoutDelivery)
            .where(LogoutDelivery.id == row_id)
            .values(status=status, attempts=7, last_error="connection refused")
        )
        db.session.info.pop(outbox.SESSION_INFO_KEY, None)
        db.session.commit()
    return row_id


def _delivery(app, row_id: int):
    from idp.extensions import db
    from idp.sessions.models import LogoutDelivery

    with app.app_context():
        row = db.session.get(LogoutDelivery, row_id)
        return row.status, row.next_attempt_at, row.give_up_at


def test_failed_logout_deliveries_are_listed_and_retried_now(app, client, make_user):
    from idp.extensions import utcnow

    sub = make_admin(app, make_user, client)
    for name in ("motcua", "webmail"):
        insert_client(app, name, {"backchannel_logout_uri": f"https://{name}.example/bc"})
    first, second = _failed_delivery(app, "motcua"), _failed_delivery(app, "webmail", "failed")
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "connection refused" in page and "motcua" in page and "webmail" in page
    only = client.get("/admin/deliveries?client_id=webmail&logout_status=").get_data(as_text=True)
    assert 'id="logout-deliveries"' in only and ">motcua<" not in only
    one = f"/admin/deliveries/logout/retry?id={first}"
    assert 'id="confirm"' in client.get(one).get_data(as_text=True)
    assert _delivery(app, first)[0] == "gave_up"
    assert client.post(one, data={"csrf_token": csrf_of(client, one)}).status_code == 302
    status, next_at, give_up_at = _delivery(app, first)
    assert status == "pending" and next_at <= utcnow() < give_up_at
    assert _delivery(app, second)[0] == "failed"
    every = "/admin/deliveries/logout/retry"
    client.post(every, data={"csrf_token": csrf_of(client, every)})
    assert _delivery(app, second)[0] == "pending"
    events = _audit(app, "deliveries.retry")
    assert [(a, d["outbox"], d["ids"]) for a, _s, d in events] == [
        (sub, "logout", [first]),
        (sub, "logout", [second]),
    ]


def _mail(app, kind: str, status: str, body: str = "Xin chào") -> int:
    from idp.extensions import db, utcnow
    from idp.mail.models import MailMessage

    with app.app_context():
        now = utcnow()
        row = MailMessage(
            recipient=f"{kind}@haugiang.gov.vn",
            language="vi",
            kind=kind,
            template="test",
            subject="Thư",
            text_body=body,
            html_body=body,
            message_id=f"<{kind}-{status}@idp.test>",
            status=status,
            attempts=3,
            next_attempt_at=now,
            give_up_at=now,
            last_error="550 mailbox unavailable",
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def _mail_status(app, row_id):
    from idp.extensions import db
    from idp.mail.models import MailMessage

    with app.app_context():
        return db.session.get(MailMessage, row_id).status


def test_failed_mail_is_retried_but_a_removed_link_is_not(app, client, make_user):
    from idp.mail.outbox import BODY_REMOVED

    sub = make_admin(app, make_user, client)
    notice = _mail(app, "notice", "failed")
    link = _mail(app, "activation", "gave_up", BODY_REMOVED)
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "550 mailbox unavailable" in page and "liên kết đã bị xóa" in page
    path = "/admin/deliveries/mail/retry"
    answer = client.post(path, data={"csrf_token": csrf_of(client, path)})
    assert answer.status_code == 302
    assert "not_resendable=1" in answer.headers["Location"]
    assert _mail_status(app, notice) == "pending"
    assert _mail_status(app, link) == "gave_up"
    [(actor, _s, detail)] = _audit(app, "deliveries.retry")
    assert actor == sub and detail["ids"] == [notice] and detail["not_resendable"] == [link]
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'id="mail-retried"' in shown


@pytest.mark.parametrize("row_id", ["4294967296", "0", "x", "99999999999999999999", "١"])
def test_an_id_that_names_no_row_is_404_never_every_row(app, client, make_user, row_id):
    make_admin(app, make_user, client)
    insert_client(app, "motcua", {"backchannel_logout_uri": "https://motcua.example/bc"})
    failed = _failed_delivery(app, "motcua")
    token = csrf_of(client, "/admin/deliveries/logout/retry")
    for box in ("logout", "mail"):
        path = f"/admin/deliveries/{box}/retry"
        assert client.post(path, data={"id": row_id, "csrf_token": token}).status_code == 404
    assert _delivery(app, failed)[0] == "gave_up"
    revoke = f"/admin/clients/registration-tokens/{row_id}/revoke"
    assert client.post(revoke, data={"csrf_token": token}).status_code == 404


def test_statuses_and_kinds_are_words_of_the_page_language(app, client, make_user, make_unit):
    make_admin(app, make_user, client)
    insert_client(app, "motcua", {"backchannel_logout_uri": "https://motcua.example/bc"})
    _failed_delivery(app, "motcua", "gave_up")
    _mail(app, "password_reset", "failed")
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "<td>đã ngừng thử</td>" in page and "<td>lỗi, sẽ thử lại</td>" in page
    assert "<td>đặt lại mật khẩu</td>" in page
    assert ">gave_up<" not in page and "<td>failed</td>" not in page
    english = client.get("/admin/deliveries", headers={"Accept-Language": "en"})
    assert "<td>gave up</td>" in english.get_data(as_text=True)
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district")
    unit = client.get("/admin/units/HG.VT").get_data(as_text=True)
    assert "<dd>cấp huyện</dd>" in unit and "district" not in unit
    audit = client.get("/admin/audit?action=login").get_data(as_text=True)
    assert "<td>thành công</td>" in audit and "<td>success</td>" not in audit
