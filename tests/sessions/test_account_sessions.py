"""The account page's "Phiên đăng nhập": every live session with its applications,
device, address and last activity, and buttons that end one or all of them."""

from __future__ import annotations

import re

from helpers.logout_flow import run_worker
from helpers.oidc_flow import provider_jwks
from helpers.pages import csrf_token
from helpers.session_flow import sign_in_to, signed_in_browser

EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 "
    "Edg/126.0"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 "
    "Mobile/15E148 Safari/604.1"
)


def _sids(html: str) -> list[str]:
    return re.findall(r'data-sid="([^"]+)"', html)


def _section(html: str) -> str:
    return html[html.index('id="sessions"') :]


def test_every_live_session_with_its_apps_device_address_and_activity(app, make_user, make_rp):
    make_user()
    make_rp("webmail", "Thư điện tử công vụ")
    make_rp("vanban", "Quản lý văn bản")
    laptop = signed_in_browser(app, user_agent=EDGE)
    sign_in_to(laptop, "webmail")
    sign_in_to(laptop, "vanban")
    phone = signed_in_browser(app, user_agent=IPHONE)
    sign_in_to(phone, "webmail")

    html = _section(laptop.get("/account/").get_data(as_text=True))
    assert html.startswith('id="sessions">Phiên đăng nhập</h2>')
    assert len(_sids(html)) == 2
    laptop_part, phone_part = (p.split("</li>")[0] for p in html.split('<li class="session')[1:3])
    assert "Edge · Windows" in laptop_part and "thiết bị này" in laptop_part
    assert "Thư điện tử công vụ, Quản lý văn bản" in laptop_part
    # One action per session: sign out on this device, end the others.
    assert ">Đăng xuất</button>" in laptop_part and "Kết thúc phiên này" not in laptop_part
    assert "Kết thúc phiên này" in phone_part and ">Đăng xuất</button>" not in phone_part
    assert "Safari · iOS" in phone_part and "thiết bị này" not in phone_part
    assert "Thư điện tử công vụ" in phone_part and "Quản lý văn bản" not in phone_part
    assert "127.0.0.1" in phone_part and "<time datetime=" in phone_part
    assert "Đăng xuất khỏi mọi thiết bị" in html


def test_ending_another_session_signs_that_device_out_of_its_apps(
    app, make_user, make_rp, receiver
):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    laptop = signed_in_browser(app, user_agent=EDGE)
    phone = signed_in_browser(app, user_agent=IPHONE)
    sign_in_to(phone, "webmail")
    page = laptop.get("/account/").get_data(as_text=True)
    laptop_sid, phone_sid = _sids(_section(page))

    response = laptop.post(
        "/account/sessions/end", data={"sid": phone_sid, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#sessions")
    assert phone.get("/account/").status_code == 302
    assert laptop.get("/account/").status_code == 200
    assert _sids(_section(laptop.get("/account/").get_data(as_text=True))) == [laptop_sid]
    assert run_worker(app) == ["delivered"]
    from joserfc import jwt

    [received] = receiver.wait_for(1)
    claims = jwt.decode(received.logout_token, provider_jwks(app), algorithms=["RS256"]).claims
    assert claims["sid"] == phone_sid and claims["aud"] == "webmail"


def test_ending_every_session_signs_this_browser_out_too(app, make_user, make_rp, receiver):
    make_user()
    make_rp("webmail", backchannel_logout_uri=receiver.url())
    laptop = signed_in_browser(app, user_agent=EDGE)
    phone = signed_in_browser(app, user_agent=IPHONE)
    sign_in_to(laptop, "webmail")
    sign_in_to(phone, "webmail")
    page = laptop.get("/account/").get_data(as_text=True)
    response = laptop.post("/account/sessions/end-all", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/logged-out")
    assert "idp_sso=;" in response.headers["Set-Cookie"]
    assert laptop.get("/account/").status_code == 302
    assert phone.get("/account/").status_code == 302
    assert run_worker(app) == ["delivered", "delivered"]
    assert len(receiver.wait_for(2)) == 2


def test_ending_needs_the_csrf_token(app, make_user):
    make_user()
    laptop = signed_in_browser(app, user_agent=EDGE)
    phone = signed_in_browser(app, user_agent=IPHONE)
    sids = _sids(_section(laptop.get("/account/").get_data(as_text=True)))
    assert laptop.post("/account/sessions/end", data={"sid": sids[1]}).status_code == 400
    assert laptop.post("/account/sessions/end-all", data={}).status_code == 400
    assert phone.get("/account/").status_code == 200
    assert laptop.get("/account/").status_code == 200


def test_nobody_ends_another_persons_session(app, make_user):
    make_user()
    make_user("tran.thi.binh@haugiang.gov.vn", given_name="Bình")
    mine = signed_in_browser(app, user_agent=EDGE)
    theirs = signed_in_browser(app, "tran.thi.binh@haugiang.gov.vn", IPHONE)
    [their_sid] = _sids(_section(theirs.get("/account/").get_data(as_text=True)))
    page = mine.get("/account/").get_data(as_text=True)
    for sid in (their_sid, "x" * 200, ""):
        response = mine.post(
            "/account/sessions/end", data={"sid": sid, "csrf_token": csrf_token(page)}
        )
        assert response.status_code == 302
    assert theirs.get("/account/").status_code == 200
    assert mine.get("/account/").status_code == 200


def test_signed_out_people_are_sent_to_sign_in(client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/account/sessions/end-all", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/account/")


def _jwks(app):
    import json

    from joserfc.jwk import KeySet

    with app.app_context():
        from idp.keys.ring import jwks_document

        return KeySet.import_key_set(json.loads(jwks_document()))


def test_one_sign_out_per_place_and_ending_every_session_is_a_section_of_its_own(
    app, make_user, make_rp
):
    make_user()
    make_rp("webmail", "Thư điện tử công vụ")
    laptop = signed_in_browser(app, user_agent=EDGE)
    signed_in_browser(app, user_agent=IPHONE)
    html = laptop.get("/account/").get_data(as_text=True)
    # This device: "Đăng xuất" (the sign-out page's action), once on the page, explained.
    assert html.count(">Đăng xuất</button>") == 1
    assert html.count('action="/logout"') == 1
    assert "Đăng xuất khỏi thiết bị này" not in html
    current = html.split('<li class="session current"')[1].split("</li>")[0]
    assert 'action="/logout"' in current and 'aria-describedby="sign-out-help"' in current
    # Another device: "Kết thúc phiên này", naming its session.
    other = html.split('<li class="session"')[1].split("</li>")[0]
    assert 'action="/account/sessions/end"' in other
    assert re.search(r'aria-describedby="session-2-title">Kết thúc phiên này<', other)
    # Every session: a section below the list, not inside the last item.
    list_end = html.index("</ul>", html.index('id="sso-sessions"'))
    end_all = html.index('<section class="block separate" id="end-all"')
    assert end_all > list_end
    assert '<h2 id="end-all-title">Đăng xuất khỏi mọi thiết bị</h2>' in html
    assert "Kết thúc cả 2 phiên ở trên" in html


def test_the_applications_agree_with_the_sessions(app, make_user, make_rp):
    """First-party clients skip consent: they are listed as signed in to, never as "none"."""
    make_user()
    make_rp("webmail", "Thư điện tử công vụ")
    make_rp("vanban", "Quản lý văn bản")
    laptop = signed_in_browser(app, user_agent=EDGE)
    html = laptop.get("/account/").get_data(as_text=True)
    assert "Bạn chưa đăng nhập vào ứng dụng nào bằng tài khoản này." in html
    assert 'id="signed-in-apps"' not in html

    sign_in_to(laptop, "webmail")
    sign_in_to(laptop, "vanban")
    html = laptop.get("/account/").get_data(as_text=True)
    apps = html[html.index('id="apps"') :]
    listed = apps.split('id="signed-in-apps"')[1].split("</ul>")[0]
    assert "Thư điện tử công vụ" in listed and "Quản lý văn bản" in listed
    assert listed.count("ứng dụng của tỉnh, không cần cho phép") == 2
    assert "chưa" not in apps.split('id="allowed-apps-title"')[0].lower()
    assert "Chưa có ứng dụng nào cần bạn cho phép" in apps
    assert "Bạn chưa đăng nhập vào ứng dụng nào" not in html

    english = laptop.get("/account/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Applications you signed in to" in english
    assert "province application, no permission needed" in english
