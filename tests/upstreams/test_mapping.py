"""Claims and levels of an upstream, mapped by its settings: nested and differently-cased
names, date formats, the link claim, the level table and its default."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from idp.extensions import db, utcnow
from idp.upstreams.client import UpstreamError
from idp.upstreams.config import parse_upstream
from idp.upstreams.flow import VerifiedIdentity, claim_at, level_of, link_value, map_claims
from idp.upstreams.models import UpstreamPendingLink
from idp.upstreams.store import (
    begin_pending_link,
    end_pending_link,
    find_pending_link,
    remove_expired_pending_links,
)

TABLE = {
    "display_name": "x",
    "issuer": "https://up.example",
    "client_id": "c",
    "client_secret": "s",
    "claims": {
        "name": "HoVaTen",
        "birthdate": {"claim": "NgayThangNamSinh", "date_format": "%Y%m%d"},
        "locality": "address.locality",
        "email": "ThuDienTu",
    },
    "link_claim": "SoDinhDanh",
    "level_claims": ["acr", "loAs"],
    "levels": {"LoA1": "urn:hg:loa:1", "LoA2": "urn:hg:loa:2"},
}


def upstream(**changes):
    return parse_upstream("dvcqg", {**TABLE, **changes}, {})


def test_claims_are_found_exactly_then_ignoring_case_and_dates_become_iso():
    claims = {
        "hovaten": "Nguyễn Văn An",
        "NgayThangNamSinh": "19900215",
        "Address": {"Locality": "Phường 1"},
        "ThuDienTu": "  an@example.vn ",
    }
    assert map_claims(upstream(), claims) == {
        "name": "Nguyễn Văn An",
        "birthdate": "1990-02-15",
        "locality": "Phường 1",
        "email": "an@example.vn",
    }


def test_a_date_in_another_format_and_an_ambiguous_name_are_left_out():
    claims = {"NgayThangNamSinh": "15/02/1990", "hovaten": "a", "HOVATEN": "b"}
    assert map_claims(upstream(), claims) == {}
    assert claim_at({"a": "x"}, ("a", "b")) is None


def test_the_link_claim_may_be_a_number_but_must_be_there():
    assert link_value(upstream(), {"SoDinhDanh": 1099012345}) == "1099012345"
    for claims in ({}, {"SoDinhDanh": ""}, {"SoDinhDanh": ["x"]}, {"SoDinhDanh": "x" * 300}):
        with pytest.raises(UpstreamError) as caught:
            link_value(upstream(), claims)
        assert caught.value.code == "claims"


@pytest.mark.parametrize(
    ("id_claims", "claims", "expected"),
    [
        ({"acr": "LoA1"}, {}, ("LoA1", [], "urn:hg:loa:1")),
        ({"acr": "LoA1"}, {"loAs": ["LoA1", "LoA2"]}, ("LoA1", ["LoA1", "LoA2"], "urn:hg:loa:2")),
        ({}, {"loAs": "LoA2"}, (None, ["LoA2"], "urn:hg:loa:2")),
        ({"acr": "LoA2"}, {"loAs": ["LoA9"]}, ("LoA2", ["LoA9"], "urn:hg:loa:2")),
    ],
)
def test_the_highest_mapped_level_is_taken(id_claims, claims, expected):
    assert level_of(upstream(), id_claims, {**id_claims, **claims}) == expected


def test_an_unmapped_level_takes_the_default_or_is_refused():
    assert level_of(upstream(default_level="urn:hg:loa:1"), {"acr": "X"}, {})[2] == ("urn:hg:loa:1")
    with pytest.raises(UpstreamError) as caught:
        level_of(upstream(), {"acr": "X"}, {})
    assert caught.value.code == "level"


def test_a_pending_link_is_found_by_its_handle_until_used_or_expired(app):
    identity = VerifiedIdentity(
        upstream="dvcqg", sub="s", sid=None, link_key="h1:abc", level="urn:hg:loa:1"
    )
    with app.app_context():
        handle = begin_pending_link(identity, app.config)
        db.session.commit()
        row = db.session.execute(sa.select(UpstreamPendingLink)).scalar_one()
        assert "h1:abc" not in row.identity_sealed and handle not in row.handle_hash
        assert find_pending_link(handle, app.config) == identity
        assert find_pending_link(handle + "x", app.config) is None
        later = utcnow() + timedelta(seconds=app.config["UPSTREAM_LINK_SECONDS"] + 1)
        assert find_pending_link(handle, app.config, later) is None
        assert remove_expired_pending_links(utcnow()) == 0
        assert remove_expired_pending_links(later) == 1
        other = begin_pending_link(identity, app.config)
        end_pending_link(other)
        db.session.commit()
        assert find_pending_link(other, app.config) is None
