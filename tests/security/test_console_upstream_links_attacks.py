"""Attacks on removing a person's upstream links from the console: a unit administrator
reaching a person of another subtree by URL, a link id of another person, a forged form
without the CSRF token."""

from __future__ import annotations

import pytest
from helpers.admin import make_admin, make_unit_admin
from helpers.console import post_action
from helpers.pages import csrf_token
from helpers.people import EMAIL


@pytest.fixture
def tree(make_unit):
    make_unit("HG", name="Tỉnh Hậu Giang", kind="province")
    make_unit("HG.VT", name="Thành phố Vị Thanh", kind="district", parent="HG")
    make_unit("HG.NB", name="Thị xã Ngã Bảy", kind="district", parent="HG")


def _link(app, sub: str, key: str = "key-1") -> int:
    from idp.directory.store import find_user_by_sub
    from idp.extensions import commit
    from idp.upstreams.store import add_link

    with app.app_context():
        link = add_link(find_user_by_sub(sub), "vneid", key, linked_by="proof")
        commit()
        return link.id


def _link_ids(app, sub: str) -> list[int]:
    from idp.directory.store import find_user_by_sub
    from idp.upstreams.store import links_of

    with app.app_context():
        return [link.id for link in links_of(find_user_by_sub(sub).id)]


def test_unit_admin_may_not_remove_a_link_outside_their_subtree(app, client, make_user, tree):
    make_unit_admin(app, make_user, client, "HG.VT", "it@haugiang.gov.vn")
    inside = make_user("p@haugiang.gov.vn", unit="HG.VT")
    outside = make_user("nb@haugiang.gov.vn", unit="HG.NB")
    inside_link, outside_link = _link(app, inside), _link(app, outside, key="key-2")
    token = csrf_token(client.get(f"/admin/people/{inside}").get_data(as_text=True))
    refused = client.post(
        f"/admin/people/{outside}/remove-upstream-link",
        data={"csrf_token": token, "confirmed": "yes", "link": str(outside_link)},
    )
    assert refused.status_code == 403
    assert _link_ids(app, outside) == [outside_link]
    assert (
        client.get(f"/admin/people/{outside}/remove-upstream-link?link={outside_link}").status_code
        == 403
    )
    assert (
        post_action(client, inside, "remove-upstream-link", link=str(inside_link)).status_code
        == 303
    )
    assert _link_ids(app, inside) == []


def test_csrf_missing_is_refused(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    link_id = _link(app, sub)
    answer = client.post(
        f"/admin/people/{sub}/remove-upstream-link", data={"confirmed": "yes", "link": str(link_id)}
    )
    assert answer.status_code == 400
    assert _link_ids(app, sub) == [link_id]


def test_a_link_of_someone_else_is_not_removed(app, client, make_user):
    make_admin(app, make_user, client)
    sub = make_user(EMAIL)
    other = make_user("khac@haugiang.gov.vn")
    other_link = _link(app, other)
    answer = post_action(client, sub, "remove-upstream-link", link=str(other_link))
    assert answer.status_code == 409
    assert _link_ids(app, other) == [other_link]
    assert post_action(client, sub, "remove-upstream-link", link="x1").status_code == 400
