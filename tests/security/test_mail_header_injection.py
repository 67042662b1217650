"""E-mail header and SMTP command injection (idp.mail).

Attacks considered, each sent to a real SMTP server on loopback (aiosmtpd):
- a recipient with a line break and a Bcc header, or several addresses, or a display name:
  refused when queued, nothing stored;
- a person's name (any context value) with CR/LF reaching the subject: the subject is one
  line, no extra header appears, the only recipient is the intended one;
- a body that ends the SMTP DATA early ("\\r\\n.\\r\\n" followed by commands, also with bare
  LF): exactly one message arrives, its text intact;
- a row changed in the database to carry a line break in its recipient: the message fails,
  nothing is sent;
- MAIL_FROM / MAIL_REPLY_TO with a line break: the provider refuses to start.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from jinja2 import ChoiceLoader, DictLoader
from mail.smtp_server import smtp_settings, start_server

from idp import create_app
from idp.extensions import db
from idp.mail import MailError, queue
from idp.mail.models import MailMessage
from idp.mail.worker import send_due
from idp.settings import SettingsError

AN = "nguyen.van.an@haugiang.gov.vn"
EVIL_SUBJECT_TXT = "{% set subject = 'Chào ' ~ name %}{{ body }}"
EVIL_SUBJECT_HTML = "<p>{{ body }}</p>"


@pytest.fixture
def smtp_server():
    controller, server = start_server()
    yield server
    controller.stop()


@pytest.fixture
def app_config(smtp_server):
    return smtp_settings(smtp_server)


@pytest.fixture
def evil_templates(app):
    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader({"mail/evil.txt": EVIL_SUBJECT_TXT, "mail/evil.html": EVIL_SUBJECT_HTML}),
            app.jinja_env.loader,
        ]
    )


@pytest.mark.parametrize(
    "recipient",
    [
        f"{AN}\r\nBcc: victim@example.com",
        f"{AN}\nBcc: victim@example.com",
        f"{AN}\rRCPT TO:<victim@example.com>",
        f"{AN}, victim@example.com",
        f"Nguyễn Văn An <{AN}>",
        f"<{AN}>",
        f"{AN}>\r\nRCPT TO:<victim@example.com",
        '"a\\"b"@haugiang.gov.vn',
        f"{AN}\x00",
        "an@haugiang.gov.vn (chú thích)",
    ],
)
def test_a_recipient_that_is_not_one_plain_address_is_refused(app, recipient):
    with app.app_context():
        with pytest.raises(MailError):
            queue(recipient, "notice", "test", {}, "vi")
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count(MailMessage.id))).scalar_one() == 0


def test_a_name_with_line_breaks_stays_in_a_one_line_subject(app, smtp_server, evil_templates):
    name = "Lê Văn Tám\r\nBcc: victim@example.com\r\nX-Injected: 1"
    with app.app_context():
        queue(AN, "notice", "evil", {"name": name, "body": "Nội dung"}, "vi")
        db.session.commit()
        assert send_due() == {"sent": 1}
    (received,) = smtp_server.received
    assert received.rcpt_tos == [AN]
    message = received.message
    assert message["Subject"] == "Chào Lê Văn Tám Bcc: victim@example.com X-Injected: 1"
    assert message["Bcc"] is None and message["X-Injected"] is None
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\r\nX-Injected:" not in head


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_a_body_cannot_end_the_message_early(app, smtp_server, evil_templates, newline):
    smuggled = newline.join(
        [
            "Dòng đầu",
            ".",
            "MAIL FROM:<attacker@example.com>",
            "RCPT TO:<victim@example.com>",
            "DATA",
            "Subject: giả mạo",
            "",
            "thư giả",
            ".",
            "Dòng cuối có dấu: ăâđêôơư",
        ]
    )
    with app.app_context():
        queue(AN, "notice", "evil", {"name": "An", "body": smuggled}, "vi")
        db.session.commit()
        assert send_due() == {"sent": 1}
    assert len(smtp_server.received) == 1
    (received,) = smtp_server.received
    assert received.rcpt_tos == [AN] and received.mail_from == "no-reply@haugiang.gov.vn"
    text = received.message.get_body(("plain",)).get_content()
    assert "MAIL FROM:<attacker@example.com>" in text and "Dòng cuối có dấu: ăâđêôơư" in text


def test_a_tampered_row_is_not_sent(app, smtp_server):
    with app.app_context():
        row = queue(AN, "notice", "test", {}, "vi")
        db.session.commit()
        db.session.execute(
            sa.update(MailMessage)
            .where(MailMessage.id == row.id)
            .values(recipient=f"{AN}\r\nRCPT TO:<victim@example.com>")
        )
        db.session.commit()
        assert send_due() == {"failed": 1}
    assert smtp_server.received == []


@pytest.mark.parametrize("key", ["MAIL_FROM", "MAIL_REPLY_TO"])
@pytest.mark.parametrize(
    "value",
    [
        "Hệ thống <no-reply@haugiang.gov.vn>\r\nBcc: victim@example.com",
        "no-reply@haugiang.gov.vn\nX-Injected: 1",
        "no-reply@haugiang.gov.vn, victim@example.com",
    ],
)
def test_sender_settings_with_line_breaks_or_lists_are_refused(key, value):
    with pytest.raises(SettingsError, match=f"IDP_{key} must be"):
        create_app({"DATABASE_URL": "sqlite://", key: value})
