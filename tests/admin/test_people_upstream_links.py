"""The console's person page lists the person's links to upstream providers, and an
administrator removes one (issue 13: links are listed on the account page and in the
console, and can be removed)."""

from __future__ import annotations

import re

import pytest
from helpers.admin import make_admin
from helpers.console import events, post_action
from helpers.people import EMAIL


@pytest.fixture
def tree(make_unit):
    make_unit("HG", name="Tỉnh Hậu Giang", kind="province")
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district", parent="HG")
    make_unit("HG.NB", name="Thị xã Ngã Bảy", kind="district", parent="HG")


def _link(app, sub: str, upstream: str = "vneid", key: str = "key-1") -> int:
    from idp.directory.store import find_user_by_sub
    from idp.extensions import commit
    from idp.upstreams.store import add_link

    with app.app_context():
        link = add_link(find_user_by_sub(sub), upstream, key, linked_by="proof")
        commit()
        return link.id


def _link_ids(app, sub: str) -> list[int]:
    from idp.directory.store import find_user_by_sub
    from idp.upstreams.store import links_of

    with app.app_context():
        return [link.id for link in links_of(find_user_by_sub(sub).id)]


def test_person_page_lists_links_and_removes_one(app, client, make_user):
    admin = make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    empty = client.get(f"/admin/people/{sub}").get_data(as_text=True)
    assert 'id="person-no-upstream-links"' in empty
    link_id = _link(app, sub)
    html = client.get(f"/admin/people/{sub}").get_data(as_text=True)
    table = re.search(r'<table id="person-upstream-links">.*?</table>', html, re.S).group(0)
    assert "vneid" in table and "người dùng chứng minh tài khoản" in table
    assert "Chưa dùng" in table
    confirm = client.get(f"/admin/people/{sub}/remove-upstream-link?link={link_id}")
    assert confirm.status_code == 200
    assert 'name="link"' in confirm.get_data(as_text=True)
    # Without the confirmation nothing is removed.
    assert post_action(client, sub, "remove-upstream-link", confirmed=False, link=str(link_id))
    assert _link_ids(app, sub) == [link_id]
    answer = post_action(client, sub, "remove-upstream-link", link=str(link_id))
    assert answer.status_code == 303
    assert _link_ids(app, sub) == []
    removed = events(app, "upstream.unlink")[-1]
    assert removed["actor"] == admin and removed["subject"] == sub
    assert removed["detail"] == {"upstream": "vneid", "link_id": link_id, "linked_by": "proof"}
    # Gone: the confirmation page is a 404, the action a 409.
    assert client.get(f"/admin/people/{sub}/remove-upstream-link?link={link_id}").status_code == 404
    again = post_action(client, sub, "remove-upstream-link", link=str(link_id))
    assert again.status_code == 409


def test_the_api_lists_and_removes_links(app, client, make_user, tree):
    from helpers.admin_api import (
        API,
        automation_token,
        bearer,
        make_tool_client,
        person_token,
        problem,
    )
    from helpers.people import PASSWORD

    token = bearer(automation_token(app, client))
    sub = make_user(EMAIL, unit="HG.VT")
    link_id = _link(app, sub)
    person = client.get(f"{API}/people/{sub}", headers=token).get_json()
    assert [(x["id"], x["upstream"], x["linked_by"]) for x in person["upstream_links"]] == [
        (link_id, "vneid", "proof")
    ]
    problem(client.post(f"{API}/people/{sub}/remove-upstream-link", headers=token), 422)
    problem(client.post(f"{API}/people/{sub}/remove-upstream-link?link=x", headers=token), 422)
    problem(client.post(f"{API}/people/{sub}/remove-upstream-link?link=0", headers=token), 409)
    done = client.post(f"{API}/people/{sub}/remove-upstream-link?link={link_id}", headers=token)
    assert done.get_json() == {"sub": sub, "outcome": "upstream_link_removed", "count": 0}
    assert _link_ids(app, sub) == []
    assert events(app, "upstream.unlink")[-1]["subject"] == sub
    # A unit administrator's token: a link of someone outside the subtree is a 403.
    outside = make_user("nb@haugiang.gov.vn", unit="HG.NB")
    outside_link = _link(app, outside, key="key-2")
    make_user("it@haugiang.gov.vn", PASSWORD, unit="HG.VT")
    from helpers.admin import grant_unit

    grant_unit(app, "it@haugiang.gov.vn", "HG.VT")
    make_tool_client(app)
    unit_token = bearer(person_token(app, client, "it@haugiang.gov.vn"))
    url = f"{API}/people/{outside}/remove-upstream-link?link={outside_link}"
    problem(client.post(url, headers=unit_token), 403)
    assert _link_ids(app, outside) == [outside_link]
