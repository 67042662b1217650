"""The account page's "remove this link" with an id no row can have: a number beyond the
database's INTEGER (SQLite's 64 bits, PostgreSQL's 32) names no link, and the answer is the
account page again, never a 500."""

from __future__ import annotations

import pytest
from helpers.pages import csrf_of, sign_in


@pytest.mark.parametrize("link_id", [2**31, 2**63, 10**30])
def test_removing_a_link_with_a_huge_id_is_no_server_error(client, make_user, link_id):
    make_user()
    assert sign_in(client).status_code == 302
    token = csrf_of(client, "/account/")
    answer = client.post(f"/account/upstream-links/{link_id}/remove", data={"csrf_token": token})
    assert answer.status_code == 302
    assert "/account/" in answer.headers["Location"]
