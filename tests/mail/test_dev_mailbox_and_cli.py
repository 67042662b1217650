"""Development without an SMTP server: the dev mailbox keeps messages and shows them at
/dev/mail (404 in production). Production without one: mail stays queued, with a warning.
`idp mail list`, `idp mail send-test`. The mail settings are checked at start."""

from __future__ import annotations

import json
import logging
import re

import pytest

from idp import create_app
from idp.extensions import db
from idp.mail import queue
from idp.mail.worker import send_due
from idp.settings import SettingsError
from mail.smtp_server import smtp_settings

AN = "nguyen.van.an@haugiang.gov.vn"
PRODUCTION = {
    "ENV": "production",
    "ISSUER": "https://sso.haugiang.gov.vn",
    "SECRET_KEY": "production-secret-key-" + "s" * 40,
    "KEY_ENCRYPTION_KEY": "production-key-encryption-key-" + "k" * 40,
    "LOG_FORMAT": "text",
}


def _queue(app, name="Trần Thị Bích", language="vi") -> int:
    with app.app_context():
        row = queue(AN, "notice", "test", {"name": name}, language)
        db.session.commit()
        return row.id


def test_the_dev_mailbox_keeps_and_shows_messages(app, client):
    row_id = _queue(app, name="<b>Lê Văn Cường</b>")
    with app.app_context():
        assert send_due() == {"sent": 1}
    page = client.get("/dev/mail")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Hộp thư phát triển" in body and "Thư thử nghiệm từ Đăng nhập một lần" in body
    assert f'href="/dev/mail/{row_id}"' in body

    page = client.get(f"/dev/mail/{row_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    # The text part is shown escaped; the HTML part only in a sandboxed iframe of its own.
    assert "Xin chào &lt;b&gt;Lê Văn Cường&lt;/b&gt;," in body and "<b>Lê" not in body
    assert (
        f'<iframe class="devmail-html" sandbox="" title="Phần HTML" src="/dev/mail/{row_id}/html"'
        in body
    )
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]

    part = client.get(f"/dev/mail/{row_id}/html")
    assert part.status_code == 200 and part.mimetype == "text/html"
    assert "Xin chào &lt;b&gt;Lê Văn Cường&lt;/b&gt;," in part.get_data(as_text=True)
    csp = part.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert client.get("/dev/mail/999999").status_code == 404
    assert client.get("/dev/mail/99999999999999999999").status_code == 404

    with app.app_context():
        from idp.mail.models import MailMessage

        row = db.session.get(MailMessage, row_id)
        assert (row.status, row.transport) == ("sent", "dev-mailbox")


def test_the_dev_mailbox_in_english(app, client):
    _queue(app, language="en")
    with app.app_context():
        send_due()
    body = client.get("/dev/mail?lang=en").get_data(as_text=True)
    assert "Development mailbox" in body and "Test message from Single sign-on" in body


@pytest.fixture
def production_app(database_url):
    app = create_app({**PRODUCTION, "DATABASE_URL": database_url})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_production_has_no_dev_mailbox_and_keeps_mail_queued(production_app, caplog):
    app = production_app
    row_id = _queue(app)
    client = app.test_client()
    for path in ("/dev/mail", f"/dev/mail/{row_id}", f"/dev/mail/{row_id}/html"):
        assert client.get(path).status_code == 404
    with caplog.at_level(logging.WARNING, logger="idp.mail"), app.app_context():
        assert send_due() == {}
    assert "IDP_MAIL_SMTP_HOST is not set" in caplog.text
    result = app.test_cli_runner().invoke(args=["mail", "list"])
    assert result.exit_code == 0
    assert "Warning: IDP_MAIL_SMTP_HOST is not set" in result.output
    assert re.search(rf"^{row_id}\s+pending ", result.output, re.M)


def test_production_sends_through_its_smtp_server(database_url, smtp_server):
    app = create_app({**PRODUCTION, "DATABASE_URL": database_url, **smtp_settings(smtp_server)})
    _queue(app)
    with app.app_context():
        assert send_due() == {"sent": 1}
        db.engine.dispose()
    assert len(smtp_server.received) == 1


def test_idp_mail_list(app, runner, smtp_server):
    app.config.update(smtp_settings(smtp_server))
    smtp_server.handler.rcpt_replies.append("451 4.7.1 Hộp thư tạm thời bận")
    first = _queue(app)
    second = _queue(app, language="en")
    with app.app_context():
        send_due()
    result = runner.invoke(args=["mail", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.match(
        rf"{second}\s+sent .* {AN}  notice/en  1 attempt\(s\)  smtp  Test message", lines[0]
    )
    assert re.match(rf"{first}\s+pending .* notice/vi  1 attempt\(s\)  -  Thư thử nghiệm", lines[1])
    assert "last error: 451 4.7.1" in lines[2]
    assert lines[-1] == "1 pending, 1 sent, 0 failed, 0 gave_up"

    result = runner.invoke(args=["mail", "list", "--status", "pending", "--json"])
    data = json.loads(result.output)
    assert data["counts"] == {"pending": 1, "sent": 1}
    assert [m["id"] for m in data["messages"]] == [first]
    message = data["messages"][0]
    assert message["subject"] == "Thư thử nghiệm từ Đăng nhập một lần"
    assert message["status"] == "pending" and message["last_error"].startswith("451")
    assert data["sent_through"].startswith(f"SMTP 127.0.0.1:{smtp_server.port}")


def test_idp_mail_send_test(app, runner, smtp_server):
    app.config.update(smtp_settings(smtp_server))
    result = runner.invoke(args=["mail", "send-test", "Nguyen.Van.An@HauGiang.gov.vn"])
    assert result.exit_code == 0, result.output
    assert f"sent to {AN} through SMTP 127.0.0.1:{smtp_server.port}" in result.output
    assert smtp_server.received[0].message["Subject"] == "Thư thử nghiệm từ Đăng nhập một lần"

    smtp_server.handler.rcpt_replies.append("550 5.1.1 Không có hộp thư này")
    result = runner.invoke(args=["mail", "send-test", AN, "--language", "en"])
    assert result.exit_code == 1
    assert "not sent (failed): 550 5.1.1 Không có hộp thư này" in result.output
    result = runner.invoke(args=["mail", "send-test", "not an address"])
    assert result.exit_code == 1 and "not a usable e-mail address" in result.output


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"MAIL_SMTP_SECURITY": "ssl"}, "IDP_MAIL_SMTP_SECURITY must be none, starttls or tls"),
        ({"MAIL_SMTP_PORT": 0}, "IDP_MAIL_SMTP_PORT must be a positive integer"),
        ({"MAIL_PER_RECIPIENT_PER_HOUR": "many"}, "IDP_MAIL_PER_RECIPIENT_PER_HOUR must be"),
        ({"MAIL_RETRY_SECONDS": -1}, "IDP_MAIL_RETRY_SECONDS must be a positive number"),
        ({"MAIL_FROM": "not an address"}, "IDP_MAIL_FROM must be an e-mail address"),
        ({"MAIL_FROM": "a@b.vn, c@d.vn"}, "IDP_MAIL_FROM must be an e-mail address"),
        ({"MAIL_REPLY_TO": "Tên <x@y.vn>\r\nBcc: z@w.vn"}, "IDP_MAIL_REPLY_TO must be"),
        (
            {"MAIL_SMTP_USER": "idp", "MAIL_SMTP_SECURITY": "none"},
            "the password would cross the network unencrypted",
        ),
    ],
)
def test_mail_settings_are_checked_at_start(overrides, reason):
    with pytest.raises(SettingsError, match=re.escape(reason)):
        create_app({"DATABASE_URL": "sqlite://", **overrides})
