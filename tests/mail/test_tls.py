"""STARTTLS and TLS to a server with its own certificate authority (MAIL_SMTP_CA_FILE),
sign-in only over an encrypted connection, and no message to a server whose certificate
cannot be checked."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import AuthResult

from idp.extensions import db
from idp.mail import queue
from idp.mail.models import MailMessage
from idp.mail.worker import send_due
from mail.smtp_server import (
    self_signed_certificate,
    smtp_settings,
    start_server,
    tls_server_context,
)

AN = "nguyen.van.an@haugiang.gov.vn"


def _check_login(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"idp" and auth_data.password == b"mat-khau-SMTP-2026"
    return AuthResult(success=ok)


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


@pytest.fixture
def starttls_server(certificate):
    controller, server = start_server(
        tls_context=tls_server_context(*certificate),
        require_starttls=True,
        authenticator=_check_login,
        auth_require_tls=True,
    )
    yield server
    controller.stop()


def _send_one(app) -> MailMessage:
    with app.app_context():
        row = queue(AN, "notice", "test", {"name": "Phạm Minh Đức"}, "vi")
        db.session.commit()
        send_due()
        row = db.session.get(MailMessage, row.id)
        db.session.refresh(row)
        return row


def test_starttls_with_the_provinces_ca_and_a_password(sqlite_app, starttls_server, certificate):
    sqlite_app.config.update(
        smtp_settings(
            starttls_server,
            MAIL_SMTP_SECURITY="starttls",
            MAIL_SMTP_CA_FILE=str(certificate[0]),
            MAIL_SMTP_USER="idp",
            MAIL_SMTP_PASSWORD="mat-khau-SMTP-2026",
        )
    )
    row = _send_one(sqlite_app)
    assert (row.status, row.transport) == ("sent", "smtp")
    message = starttls_server.received[0].message
    assert message["Subject"] == "Thư thử nghiệm từ Đăng nhập một lần"
    assert "Xin chào Phạm Minh Đức," in message.get_body(("plain",)).get_content()


def test_a_wrong_password_is_tried_again_later(sqlite_app, starttls_server, certificate):
    sqlite_app.config.update(
        smtp_settings(
            starttls_server,
            MAIL_SMTP_SECURITY="starttls",
            MAIL_SMTP_CA_FILE=str(certificate[0]),
            MAIL_SMTP_USER="idp",
            MAIL_SMTP_PASSWORD="sai",
            MAIL_SMTP_TIMEOUT_SECONDS=2,
        )
    )
    row = _send_one(sqlite_app)
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert starttls_server.received == []


def test_a_certificate_that_cannot_be_checked_sends_nothing(sqlite_app, starttls_server):
    sqlite_app.config.update(smtp_settings(starttls_server, MAIL_SMTP_SECURITY="starttls"))
    row = _send_one(sqlite_app)
    assert row.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in row.last_error
    assert starttls_server.received == []


def test_tls_from_the_first_byte(sqlite_app, certificate):
    controller, server = start_server(ssl_context=tls_server_context(*certificate))
    try:
        sqlite_app.config.update(
            smtp_settings(server, MAIL_SMTP_SECURITY="tls", MAIL_SMTP_CA_FILE=str(certificate[0]))
        )
        row = _send_one(sqlite_app)
    finally:
        controller.stop()
    assert row.status == "sent" and len(server.received) == 1
