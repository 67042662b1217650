"""The console's people pages: search, a person's page, and the actions on a person."""

from __future__ import annotations

import pytest
from helpers.admin import console_sign_in, grant_unit, make_admin
from helpers.console import events, post_action, user_status
from helpers.mailbox import queued
from helpers.pages import sign_in
from helpers.people import EMAIL, PASSWORD


@pytest.fixture
def tree(make_unit):
    make_unit("HG", name="Tỉnh Hậu Giang", kind="province")
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district", parent="HG")
    make_unit("HG.VT.P1", name="Phường I", kind="commune", parent="HG.VT")
    make_unit("HG.NB", name="Thị xã Ngã Bảy", kind="district", parent="HG")


def _names(html: str) -> list[str]:
    import re

    return re.findall(r'<a href="/admin/people/[^"]+">([^<]+)</a>', html)


def test_search_by_name_without_diacritics(app, client, make_user, tree):
    make_admin(app, make_user, client)
    make_user("a@haugiang.gov.vn", family_name="Nguyễn", middle_name="Văn", given_name="A")
    make_user("d@haugiang.gov.vn", family_name="Đặng", middle_name="Thị", given_name="Đào")
    make_user("b@haugiang.gov.vn", family_name="Trần", middle_name="Thị", given_name="Bình")
    html = client.get("/admin/people?q=nguyen+van+a").get_data(as_text=True)
    assert "Nguyễn Văn A" in _names(html)
    assert "Trần Thị Bình" not in html
    assert _names(client.get("/admin/people?q=dang+thi+dao").get_data(as_text=True)) == [
        "Đặng Thị Đào"
    ]
    # With diacritics, in decomposed (NFD) form, and in capitals.
    import unicodedata

    nfd = unicodedata.normalize("NFD", "ĐẶNG THỊ")
    assert _names(client.get("/admin/people", query_string={"q": nfd}).get_data(as_text=True)) == [
        "Đặng Thị Đào"
    ]


def test_search_by_address_prefix_and_alias(app, client, make_user):
    make_admin(app, make_user, client)
    make_user("le.hoa@haugiang.gov.vn", aliases=["hoa.le@vithanh.gov.vn"], given_name="Hoa")
    assert "Nguyễn Văn Hoa" in _names(client.get("/admin/people?q=le.ho").get_data(as_text=True))
    found = client.get("/admin/people?q=HOA.LE@vithanh").get_data(as_text=True)
    assert "Nguyễn Văn Hoa" in _names(found)


def test_search_by_unit_includes_the_subtree(app, client, make_user, tree):
    make_admin(app, make_user, client)
    make_user("p1@haugiang.gov.vn", given_name="Phường", unit="HG.VT.P1")
    make_user("nb@haugiang.gov.vn", given_name="Ngã", unit="HG.NB")
    html = client.get("/admin/people?unit=HG.VT").get_data(as_text=True)
    assert _names(html) == ["Nguyễn Văn Phường"]


def test_search_pages(app, client, make_user):
    make_admin(app, make_user, client)
    for n in range(55):
        make_user(f"p{n:02}@haugiang.gov.vn", password=None, given_name=f"Người{n:02}")
    first = client.get("/admin/people?q=nguoi").get_data(as_text=True)
    assert len(_names(first)) == 50
    assert 'id="people-next"' in first
    second = client.get("/admin/people?q=nguoi&offset=50").get_data(as_text=True)
    assert len(_names(second)) == 5
    assert not set(_names(first)) & set(_names(second))


def test_unit_admin_sees_only_their_subtree(app, client, make_user, tree):
    make_user("p1@haugiang.gov.vn", given_name="Phường", unit="HG.VT.P1")
    make_user("nb@haugiang.gov.vn", given_name="Ngã", unit="HG.NB")
    make_user("it@haugiang.gov.vn", password=PASSWORD, given_name="Tin", unit="HG.VT")
    grant_unit(app, "it@haugiang.gov.vn", "HG.VT")
    console_sign_in(app, client, "it@haugiang.gov.vn")
    names = _names(client.get("/admin/people?q=nguyen").get_data(as_text=True))
    assert sorted(names) == ["Nguyễn Văn Phường", "Nguyễn Văn Tin"]
    # A unit outside their subtree, chosen by hand: refused and recorded.
    assert client.get("/admin/people?unit=HG.NB").status_code == 403
    assert events(app, "admin.denied")[-1]["subject"] == "/admin/people"


@pytest.mark.parametrize(
    "query", ["offset=abc", "offset=-1", "status=deleted", "unit=NO.SUCH", "q=" + "x" * 201]
)
def test_bad_search_values_are_400(app, client, make_user, query):
    make_admin(app, make_user, client)
    assert client.get("/admin/people?" + query).status_code == 400


def test_person_page_shows_everything(app, client, make_user, tree):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL, aliases=["an.nv@vithanh.gov.vn"], unit="HG.VT.P1", roles=["editor"])
    grant_unit(app, EMAIL, "HG.VT")
    assert sign_in(app.test_client()).status_code == 302  # a session (password level)
    from helpers.factors import enrol

    enrol(app, EMAIL)
    html = client.get(f"/admin/people/{sub}").get_data(as_text=True)
    for text in (
        EMAIL,
        "an.nv@vithanh.gov.vn",
        "Tỉnh Hậu Giang",
        "Phường I",
        "editor",
        "Thành phố Vị Thanh",
        "còn 10 mã khôi phục",
        f"/admin/audit?subject={sub}",
    ):
        assert text in html, text
    assert html.count("/end-sessions?sid=") == 1


def test_nonexistent_person_is_404(app, client, make_user):
    make_admin(app, make_user, client)
    assert client.get("/admin/people/no-such-sub").status_code == 404
    assert client.get("/admin/people/" + "x" * 300).status_code == 404


def test_unknown_action_is_404(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    assert client.get(f"/admin/people/{sub}/explode").status_code == 404


def test_disable_asks_for_confirmation_then_ends_sessions(app, client, make_user):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    person = app.test_client()
    assert sign_in(person).status_code == 302
    confirm = client.get(f"/admin/people/{sub}/disable")
    assert confirm.status_code == 200
    assert 'id="confirm-form"' in confirm.get_data(as_text=True)
    # Without the confirmation the page only asks.
    unconfirmed = post_action(client, sub, "disable", confirmed=False)
    assert unconfirmed.status_code == 200
    assert user_status(app, sub) == "active"
    answer = post_action(client, sub, "disable")
    assert answer.status_code == 303
    assert user_status(app, sub) == "disabled"
    disabled = events(app, "user.disable")[-1]
    assert disabled["actor"] == admin and disabled["subject"] == sub
    assert disabled["detail"]["sessions_ended"] == 1
    assert person.get("/account/").status_code == 302
    # Enable brings the account back.
    assert post_action(client, sub, "enable", confirmed=False).status_code == 303
    assert user_status(app, sub) == "active"
    assert events(app, "user.enable")[-1]["actor"] == admin


def test_an_admin_may_not_disable_themselves(app, client, make_user):
    admin = make_admin(app, make_user, client)
    answer = post_action(client, admin, "disable")
    assert answer.status_code == 409
    assert "chính mình" in answer.get_data(as_text=True)
    assert user_status(app, admin) == "active"


def test_csrf_missing_is_refused(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    answer = client.post(f"/admin/people/{sub}/disable", data={"confirmed": "yes"})
    assert answer.status_code == 400
    assert user_status(app, sub) == "active"
    # The page keeps the console's menu and offers the form again.
    html = answer.get_data(as_text=True)
    assert 'class="admin-nav"' in html and 'id="error-back"' in html
    # Someone who is not an administrator gets the plain page.
    stranger = app.test_client()
    make_user("khach@haugiang.gov.vn")
    assert sign_in(stranger, "khach@haugiang.gov.vn").status_code == 302
    plain = stranger.post(f"/admin/people/{sub}/disable", data={"confirmed": "yes"})
    assert plain.status_code == 400 and 'class="admin-nav"' not in plain.get_data(as_text=True)


def test_send_links_queue_mail(app, client, make_user):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    assert post_action(client, sub, "send-activation", confirmed=False).status_code == 303
    assert post_action(client, sub, "send-reset", confirmed=False).status_code == 303
    assert len(queued(app, to=EMAIL)) == 2
    sent = events(app, "password.link_sent")
    assert [e["detail"]["purpose"] for e in sent] == ["activation", "reset"]
    assert {e["actor"] for e in sent} == {admin}


def test_unlock(app, client, make_user):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    for _ in range(3):
        sign_in(app.test_client(), EMAIL, "sai-mật-khẩu")
    assert post_action(client, sub, "unlock", confirmed=False).status_code == 303
    unlocked = events(app, "login.unlock")[-1]
    assert unlocked["actor"] == admin and unlocked["subject"] == sub


def test_reset_factors_removes_totp_and_recovery_codes(app, client, make_user):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    from helpers.factors import enrol

    enrol(app, EMAIL)
    assert post_action(client, sub, "reset-factors").status_code == 303
    html = client.get(f"/admin/people/{sub}").get_data(as_text=True)
    assert "còn 10 mã khôi phục" not in html
    removed = events(app, "factor_removed")[-1]
    assert removed["actor"] == admin and removed["subject"] == sub
    assert events(app, "factors.admin_reset")[-1]["detail"] == {"removed": 1}


def test_end_one_session_and_all(app, client, make_user):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    first, second = app.test_client(), app.test_client()
    assert sign_in(first).status_code == 302
    assert sign_in(second).status_code == 302
    from idp.sessions.overview import live_sessions

    with app.app_context():
        from idp.directory.store import find_user_by_sub

        sids = [s.sid for s in live_sessions(find_user_by_sub(sub).id)]
    assert post_action(client, sub, "end-sessions", sid=sids[0]).status_code == 303
    ended = events(app, "session.end")[-1]
    assert ended["actor"] == admin and ended["detail"]["sids"] == [sids[0]]
    # The same session again: it is no longer open.
    assert post_action(client, sub, "end-sessions", sid=sids[0]).status_code == 409
    assert post_action(client, sub, "end-sessions").status_code == 303
    assert first.get("/account/").status_code == 302
    assert second.get("/account/").status_code == 302


def test_grant_and_revoke_unit_admin(app, client, make_user, tree):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL, unit="HG.VT")
    confirm = client.get(f"/admin/people/{sub}/grant-unit?unit=HG.VT")
    assert "Thành phố Vị Thanh" in confirm.get_data(as_text=True)
    assert post_action(client, sub, "grant-unit", confirmed=False, unit="HG.VT").status_code == 303
    assert events(app, "admin.grant")[-1] == {
        "action": "admin.grant",
        "actor": admin,
        "subject": sub,
        "outcome": "success",
        "detail": {"unit": "HG.VT"},
    }
    assert post_action(client, sub, "revoke-unit", unit="HG.VT").status_code == 303
    assert events(app, "admin.revoke")[-1]["actor"] == admin
    assert post_action(client, sub, "grant-unit", unit="NO.SUCH").status_code == 409


def test_unit_admin_may_not_grant(app, client, make_user, tree):
    make_user("it@haugiang.gov.vn", password=PASSWORD, unit="HG.VT")
    grant_unit(app, "it@haugiang.gov.vn", "HG.VT")
    console_sign_in(app, client, "it@haugiang.gov.vn")
    sub = make_user(EMAIL, unit="HG.VT.P1")
    assert client.get(f"/admin/people/{sub}").status_code == 200
    assert client.get(f"/admin/people/{sub}/grant-unit?unit=HG.VT").status_code == 403
    assert post_action(client, sub, "grant-unit", unit="HG.VT").status_code == 403


def test_unit_admin_may_not_revoke_own_last_path(app, client, make_user, tree):
    """The super-administrators' check, seen from the permissions module directly: a
    person's own last grant is refused."""
    from idp.admin import permissions
    from idp.directory.store import find_unit, find_user_by_address

    make_user("it@haugiang.gov.vn", password=PASSWORD, unit="HG.VT")
    grant_unit(app, "it@haugiang.gov.vn", "HG.VT")
    with app.app_context():
        user = find_user_by_address("it@haugiang.gov.vn")
        unit = find_unit("HG.VT")
        assert permissions.would_lose_last_path(user, unit, actor=user.sub)
        assert not permissions.would_lose_last_path(user, unit, actor="someone-else")
