"""Messages queued in Vietnamese and English leave through a real SMTP server on loopback
(aiosmtpd), on SQLite and PostgreSQL: headers, both parts, diacritics; retries, giving up,
the per-recipient allowance."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from idp.extensions import db, utcnow
from idp.mail import MailError, queue
from idp.mail.models import MailMessage
from idp.mail.worker import send_due
from mail.smtp_server import smtp_settings

AN = "nguyen.thi.hong.nhung@haugiang.gov.vn"
NAME = "Nguyễn Thị Hồng Nhung"


@pytest.fixture
def app_config(smtp_server):
    return smtp_settings(smtp_server, MAIL_REPLY_TO="Văn phòng UBND <vanphong@haugiang.gov.vn>")


def _queue(app, to=AN, language="vi", **context) -> int:
    with app.app_context():
        row = queue(to, "notice", "test", {"name": NAME, **context}, language)
        db.session.commit()
        return row.id


def _send(app, now=None) -> dict:
    with app.app_context():
        return send_due(now)


def _row(app, row_id) -> MailMessage:
    with app.app_context():
        row = db.session.get(MailMessage, row_id)
        db.session.expunge(row)
        return row


def _parts(message):
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    return text.get_content(), html.get_content()


def test_a_vietnamese_and_an_english_message_arrive_intact(app, smtp_server):
    vi_id = _queue(app, language="vi")
    en_id = _queue(app, to="Tran.Van.Binh@HauGiang.gov.vn", language="en")
    assert _send(app) == {"sent": 2}

    vi, en = sorted(smtp_server.received, key=lambda r: r.rcpt_tos[0])
    assert vi.rcpt_tos == [AN] and vi.mail_from == "no-reply@haugiang.gov.vn"
    message = vi.message
    assert message["Subject"] == "Thư thử nghiệm từ Đăng nhập một lần"
    assert message["From"].addresses[0].display_name == "Đăng nhập một lần tỉnh Hậu Giang"
    assert message["From"].addresses[0].addr_spec == "no-reply@haugiang.gov.vn"
    assert message["Reply-To"].addresses[0].display_name == "Văn phòng UBND"
    assert message["To"] == AN
    assert message["Date"].datetime is not None
    assert message["Content-Language"] == "vi"
    assert message["Message-ID"] == _row(app, vi_id).message_id
    assert message["Message-ID"].endswith("@haugiang.gov.vn>")
    text, html = _parts(message)
    assert text.startswith(f"Xin chào {NAME},")
    assert "Ủy ban nhân dân tỉnh Hậu Giang" in text and "Trân trọng," in text
    assert f"Xin chào {NAME}," in html and '<html lang="vi">' in html
    # Headers travel as 7-bit ASCII (RFC 2047), the parts as UTF-8.
    head = vi.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head.lower()

    message = en.message
    assert en.rcpt_tos == ["tran.van.binh@haugiang.gov.vn"]
    assert message["Subject"] == "Test message from Single sign-on"
    text, html = _parts(message)
    assert text.startswith(f"Hello {NAME},")
    assert "Hau Giang Provincial People's Committee" in text
    assert "This message was sent automatically." in html and '<html lang="en">' in html

    rows = [_row(app, vi_id), _row(app, en_id)]
    assert [(r.status, r.attempts, r.transport) for r in rows] == [("sent", 1, "smtp")] * 2
    assert all(r.sent_at is not None and r.claimed_by is None for r in rows)
    # Nothing is sent twice.
    assert _send(app) == {}
    assert len(smtp_server.received) == 2


def test_a_message_is_queued_in_the_callers_transaction(app, smtp_server):
    with app.app_context():
        queue(AN, "notice", "test", {}, "vi")
        db.session.rollback()
        assert send_due() == {}
    assert smtp_server.received == []


def test_an_unknown_language_falls_back_to_vietnamese(app, smtp_server):
    row_id = _queue(app, language="fr")
    assert _row(app, row_id).language == "vi"


def test_451_is_tried_again_later_and_then_sent(app, smtp_server):
    smtp_server.handler.data_replies.append("451 4.3.0 Xin thử lại sau")
    row_id = _queue(app)
    assert _send(app) == {"pending": 1}
    row = _row(app, row_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("451 4.3.0")
    delay = row.next_attempt_at - row.last_attempt_at
    assert delay == timedelta(seconds=app.config["MAIL_RETRY_FIRST_DELAY_SECONDS"])
    # Not before its time.
    assert _send(app) == {}
    assert _send(app, now=row.next_attempt_at + timedelta(seconds=1)) == {"sent": 1}
    row = _row(app, row_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(smtp_server.received) == 1


def test_550_fails_at_once(app, smtp_server):
    smtp_server.handler.rcpt_replies.append("550 5.1.1 No such mailbox")
    refused = _queue(app, to="khong.ton.tai@haugiang.gov.vn")
    accepted = _queue(app)
    assert _send(app) == {"failed": 1, "sent": 1}
    row = _row(app, refused)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "550 5.1.1 No such mailbox"
    assert _row(app, accepted).status == "sent"
    assert [r.rcpt_tos for r in smtp_server.received] == [[AN]]


@pytest.mark.parametrize("app_config", [{"MAIL_RETRY_SECONDS": 100}], indirect=False)
def test_a_server_that_cannot_be_reached_is_given_up(app):
    app.config.update(MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=_closed_port())
    row_id = _queue(app)
    now = utcnow()
    statuses = []
    for _ in range(6):
        statuses.append(_send(app, now))
        row = _row(app, row_id)
        if row.status != "pending":
            break
        now = row.next_attempt_at
    # 30 s, 60 s, then 120 s would pass the 100 s give-up time.
    assert statuses == [{"pending": 1}, {"pending": 1}, {"gave_up": 1}]
    row = _row(app, row_id)
    assert (row.status, row.attempts) == ("gave_up", 3)
    assert "ConnectionRefusedError" in row.last_error


def _closed_port() -> int:
    from mail.smtp_server import free_port

    return free_port()


@pytest.mark.parametrize("app_config", [{"MAIL_PER_RECIPIENT_PER_HOUR": 2}], indirect=False)
def test_at_most_n_messages_per_recipient_per_hour(app, smtp_server):
    app.config.update(smtp_settings(smtp_server))
    mine = [_queue(app) for _ in range(4)]
    other = _queue(app, to="le.van.cuong@haugiang.gov.vn")
    start = utcnow()
    assert _send(app, start) == {"sent": 3}
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "le.van.cuong@haugiang.gov.vn",
        AN,
        AN,
    ]
    waiting = [_row(app, i) for i in mine[2:]]
    assert [r.status for r in waiting] == ["pending", "pending"]
    assert all(r.attempts == 0 for r in waiting)
    # They wait until the oldest of the hour's messages is an hour old.
    assert all(r.next_attempt_at == start + timedelta(hours=1) for r in waiting)
    assert _send(app, start + timedelta(minutes=59)) == {}
    assert _send(app, start + timedelta(hours=1, seconds=1)) == {"sent": 2}
    assert _row(app, other).status == "sent"
    assert len(smtp_server.received) == 5


def test_the_recipient_must_be_one_plain_address(app, smtp_server):
    for bad in ["", "khong-phai-dia-chi", "a@b.vn, c@d.vn", "Tên <a@b.vn>", "ngữ@haugiang.vn"]:
        with app.app_context(), pytest.raises(MailError):
            queue(bad, "notice", "test", {}, "vi")


def test_idp_worker_once_sends_the_mail(app, smtp_server, runner):
    _queue(app)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert len(smtp_server.received) == 1


def test_rows_are_written_with_both_engines_timestamps_aware(app, smtp_server):
    row_id = _queue(app)
    _send(app)
    with app.app_context():
        sent_at = db.session.execute(
            sa.select(MailMessage.sent_at).where(MailMessage.id == row_id)
        ).scalar_one()
    assert sent_at.tzinfo is not None
