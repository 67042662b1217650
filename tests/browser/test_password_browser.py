"""Activation from the e-mail an SMTP server received, and "Quên mật khẩu?" end to end, in
headless Chromium.

The provider runs on 127.0.0.1 (its ISSUER is the server's own address, so the links in
the mail open it); mail goes through `idp worker`'s sending job to a real SMTP server on
loopback (aiosmtpd), and the link is taken from the message as it arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from helpers.live import Server
from mail.smtp_server import smtp_server, smtp_settings  # noqa: F401  (a fixture)

EMAIL = "tran.thi.binh@haugiang.gov.vn"
OLD_PASSWORD = "Mật-khẩu-cũ-đủ-dài-2026"
NEW_PASSWORD = "Một-cụm-từ-mới-dễ-nhớ-2027"
THIRD_PASSWORD = "Lại-một-cụm-từ-khác-2028"

pytestmark = pytest.mark.browser


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


@pytest.fixture
def idp_server(app, smtp_server) -> Iterator[Server]:  # noqa: F811
    app.config.update(smtp_settings(smtp_server))
    with Server(app) as server:
        app.config["ISSUER"] = server.url  # the links in the mail open this server
        yield server


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def deliver(app, smtp_server, subject_start: str):  # noqa: F811
    """Send what is due through SMTP; the message received whose subject starts so."""
    from idp.mail.worker import send_due

    with app.app_context():
        send_due()
    found = [
        r.message for r in smtp_server.received if r.message["Subject"].startswith(subject_start)
    ]
    assert found, [r.message["Subject"] for r in smtp_server.received]
    return found[-1]


def link_of(message, path: str) -> str:
    """The link of the HTML part (the button a person clicks) that opens `path`."""
    parser = Links()
    parser.feed(message.get_body(("html",)).get_content())
    [link] = {href for href in parser.hrefs if path in href}
    assert link in message.get_body(("plain",)).get_content()
    return link


def test_activation_from_the_received_mail(app, browser, idp_server, smtp_server, make_user):  # noqa: F811
    make_user(EMAIL, None, family_name="Trần", middle_name="Thị", given_name="Bình")
    result = app.test_cli_runner().invoke(args=["users", "invite", "--without-password"])
    assert result.exit_code == 0, result.output
    mail = deliver(app, smtp_server, "Kích hoạt tài khoản")
    assert mail["To"] == EMAIL
    link = link_of(mail, "/activate/")
    assert link.startswith(idp_server.url + "/activate/")

    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text() == "Kích hoạt tài khoản"
        page.get_by_label("Mật khẩu mới", exact=True).fill("ngắn")
        page.get_by_label("Nhập lại mật khẩu mới").fill("ngắn")
        page.get_by_role("button", name="Lưu mật khẩu").click()
        assert (
            "Mật khẩu phải có ít nhất 10 ký tự." in page.locator(".field-error").first.inner_text()
        )

        page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Lưu mật khẩu").click()
        page.wait_for_url(idp_server.url + "/login?**")
        assert page.locator("#form-notice").inner_text() == (
            "Tài khoản đã được kích hoạt. Mời bạn đăng nhập bằng mật khẩu mới."
        )
        assert page.get_by_label("Địa chỉ thư điện tử").input_value() == EMAIL
        page.get_by_label("Mật khẩu").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(idp_server.url + "/account/")
        assert page.get_by_role("heading", name="Bảo mật").is_visible()

        page.goto(link)  # the link worked once
        assert "Liên kết này đã được sử dụng" in page.locator("#link-problem").inner_text()
    finally:
        context.close()
    notice = deliver(app, smtp_server, "Tài khoản được kích hoạt")
    assert "đã được kích hoạt" in notice.get_body(("plain",)).get_content()


def test_forgot_password_end_to_end(app, browser, idp_server, smtp_server, make_user):  # noqa: F811
    make_user(EMAIL, OLD_PASSWORD)
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    try:
        page.goto(idp_server.url + "/login")
        page.get_by_role("link", name="Quên mật khẩu?").click()
        page.wait_for_url(idp_server.url + "/password/forgot")
        page.get_by_label("Địa chỉ thư điện tử").fill(EMAIL)
        page.get_by_role("button", name="Gửi liên kết").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Kiểm tra hộp thư của bạn"

        mail = deliver(app, smtp_server, "Đặt lại mật khẩu")
        link = link_of(mail, "/password/reset/")
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text() == "Đặt lại mật khẩu"
        page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD + "?")
        page.get_by_role("button", name="Lưu mật khẩu").click()
        assert "không khớp" in page.locator(".field-error").first.inner_text()
        page.get_by_label("Mật khẩu mới", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Lưu mật khẩu").click()
        page.wait_for_url(idp_server.url + "/login?**")
        assert "Mật khẩu đã được đặt lại" in page.locator("#form-notice").inner_text()

        page.get_by_label("Mật khẩu").fill(OLD_PASSWORD)  # the old one no longer works
        page.get_by_role("button", name="Đăng nhập").click()
        assert page.locator("#form-error").is_visible()
        page.get_by_label("Mật khẩu").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(idp_server.url + "/account/")

        # And then, on the account page, a change of password.
        page.get_by_label("Mật khẩu hiện tại").fill(NEW_PASSWORD)
        page.get_by_label("Mật khẩu mới", exact=True).fill(THIRD_PASSWORD)
        page.get_by_label("Nhập lại mật khẩu mới").fill(THIRD_PASSWORD)
        page.get_by_role("button", name="Đổi mật khẩu").click()
        page.wait_for_url(idp_server.url + "/account/?password=changed#security")
        assert "Mật khẩu đã được đổi" in page.locator("#password-changed").inner_text()
    finally:
        context.close()
    changed = deliver(app, smtp_server, "Mật khẩu của bạn đã thay đổi")
    assert changed["To"] == EMAIL
