"""The account page ("Tài khoản của tôi"): who I am, where I work, where I signed in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from idp.account.service import describe_device, recent_sign_ins
from idp.audit import AuditEvent
from idp.directory.store import find_user_by_sub
from idp.extensions import db

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_shows_name_unit_path_and_every_address(client, auth, make_user, make_unit):
    make_unit("UBND", "Ủy ban nhân dân tỉnh", kind="province")
    make_unit("STTTT", "Sở Thông tin và Truyền thông", parent="UBND")
    make_unit("STTTT-VP", "Văn phòng Sở", kind="office", parent="STTTT")
    make_user(aliases=["an.nv@haugiang.gov.vn", "AnNV@stttt.haugiang.gov.vn"], unit="STTTT-VP")
    auth.login(email="an.nv@haugiang.gov.vn")
    response = client.get("/account/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<h1 id="account-title">Tài khoản của tôi</h1>' in html
    assert '<dd id="account-name">Nguyễn Văn An</dd>' in html
    units = re.findall(r"<li>([^<]+)</li>", html.split('id="account-unit"')[1].split("</dd>")[0])
    assert units == ["Ủy ban nhân dân tỉnh", "Sở Thông tin và Truyền thông", "Văn phòng Sở"]
    emails = html.split('id="account-emails"')[1].split("</ul>")[0]
    assert re.search(r"nguyen\.van\.an@haugiang\.gov\.vn <span class=\"tag\">chính</span>", emails)
    assert "an.nv@haugiang.gov.vn" in emails
    assert "AnNV@stttt.haugiang.gov.vn" in emails
    assert emails.count("bí danh") == 2


def test_user_without_unit(client, auth, make_user):
    make_user()
    auth.login()
    html = client.get("/account/").get_data(as_text=True)
    assert re.search(r'<dd id="account-unit">\s*—\s*</dd>', html)


def test_recent_sign_ins_in_vietnam_time_with_device_and_address(app, client, auth, make_user):
    sub = make_user()
    with app.app_context():
        db.session.add_all(
            [
                AuditEvent(
                    at=datetime(2026, 3, 5, 3, 4, 5, tzinfo=UTC),
                    actor=sub,
                    action="login",
                    subject=sub,
                    ip="10.20.30.40",
                    user_agent=SAFARI_IPHONE,
                    outcome="success",
                ),
                # Failures and other people's sign-ins are not listed.
                AuditEvent(
                    at=datetime(2026, 3, 6, 1, 0, 0, tzinfo=UTC),
                    actor="anonymous",
                    action="login",
                    subject=sub,
                    ip="203.0.113.66",
                    outcome="failure",
                ),
                AuditEvent(
                    at=datetime(2026, 3, 6, 2, 0, 0, tzinfo=UTC),
                    actor="x",
                    action="login",
                    subject="someone-else",
                    ip="203.0.113.77",
                    outcome="success",
                ),
            ]
        )
        db.session.commit()
    token = auth.csrf_token()
    client.post(
        "/login",
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": "Mật-khẩu-đủ-dài-2026",
            "csrf_token": token,
        },
        headers={"User-Agent": CHROME_WINDOWS},
    )
    html = client.get("/account/").get_data(as_text=True)
    table = html.split('id="sign-ins"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    assert len(rows) == 2
    newest, older = rows
    assert "Chrome · Windows" in newest and "127.0.0.1" in newest
    # 03:04:05 UTC is 10:04:05 in Asia/Ho_Chi_Minh (UTC+7).
    # Written as Vietnamese offices do: dd/MM/yyyy HH:mm.
    assert '<time datetime="2026-03-05T10:04:05+07:00">05/03/2026 10:04</time>' in older
    assert "03:04" not in older
    assert "Safari · iOS" in older and "10.20.30.40" in older
    assert f'title="{SAFARI_IPHONE}"' in older
    assert "203.0.113" not in table
    assert "Asia/Ho_Chi_Minh" in html


def test_recent_sign_ins_are_newest_first_and_bounded(app, make_user):
    sub = make_user()
    with app.app_context():
        for day in range(1, 15):
            db.session.add(
                AuditEvent(
                    at=datetime(2026, 1, day, tzinfo=UTC),
                    actor=sub,
                    action="login",
                    subject=sub,
                    outcome="success",
                )
            )
        db.session.commit()
        shown = recent_sign_ins(find_user_by_sub(sub).sub)
    assert len(shown) == 10
    assert [s.at.day for s in shown] == list(range(14, 4, -1))


def test_page_is_private_and_not_cached(client, auth, make_user):
    make_user()
    auth.login()
    response = client.get("/account/")
    assert response.headers["Cache-Control"] == "no-store"


def test_a_disabled_user_loses_the_page(app, client, auth, make_user):
    sub = make_user()
    auth.login()
    with app.app_context():
        find_user_by_sub(sub).status = "disabled"
        db.session.commit()
    assert client.get("/account/").status_code == 302


def test_root_goes_to_the_account_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/")


@pytest.mark.parametrize(
    "agent, expected",
    [
        (CHROME_WINDOWS, "Chrome · Windows"),
        (SAFARI_IPHONE, "Safari · iOS"),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36",
            "Chrome · Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge · Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "coc_coc_browser/121.0 Chrome/115.0 Safari/537.36",
            "Cốc Cốc · Windows",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox · Linux",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        (None, ""),
    ],
)
def test_describe_device(agent, expected):
    assert describe_device(agent) == expected
