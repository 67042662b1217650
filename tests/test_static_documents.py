"""Discovery and JWKS answered before Flask (idp.http): same bytes and headers as the views,
ETags, and a JWKS that follows key rotation as fast as signing does."""

from __future__ import annotations

import pytest
from helpers.clock import FakeClock

from idp.extensions import db, utcnow
from idp.keys import ring
from idp.keys.models import KEY_CURRENT

DOCUMENTS = ["/.well-known/openid-configuration", "/jwks"]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_later_requests_get_the_same_document_and_headers(sqlite_app, path):
    dispatched = []
    sqlite_app.before_request(lambda: dispatched.append(path) and None)
    client = sqlite_app.test_client()
    first = client.get(path)  # made by the view, then published
    second = client.get(path)  # answered before Flask
    assert dispatched == [path]
    assert first.status_code == second.status_code == 200
    assert second.get_data() == first.get_data()
    for name in (
        "Content-Type",
        "Content-Length",
        "Cache-Control",
        "ETag",
        "Access-Control-Allow-Origin",
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
    ):
        assert second.headers.get(name) == first.headers.get(name), name
    assert second.headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize("path", DOCUMENTS)
def test_a_matching_etag_gets_304_without_a_body(sqlite_app, path):
    client = sqlite_app.test_client()
    etag = client.get(path).headers["ETag"]
    # Answered by the layer in front of Flask, and by the view (a query string goes there).
    for target in (path, path + "?v=1"):
        again = client.get(target, headers={"If-None-Match": etag})
        assert again.status_code == 304, target
        assert again.get_data() == b""
        assert again.headers["ETag"] == etag
    other = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.get_data()
    listed = client.get(path, headers={"If-None-Match": f'"x", W/{etag}'})
    assert listed.status_code == 304


@pytest.mark.parametrize("path", DOCUMENTS)
def test_head_query_strings_and_other_methods(sqlite_app, path):
    client = sqlite_app.test_client()
    body = client.get(path).get_data()
    head = client.head(path)
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(body))
    # A query string goes through Flask as before (and its checks).
    assert client.get(path + "?x=1").get_data() == body
    assert client.get(path + "?x=%00").status_code == 400
    assert client.post(path).status_code == 405


def test_jwks_shows_a_rotation_in_this_process_at_once(sqlite_app):
    client = sqlite_app.test_client()
    with sqlite_app.app_context():
        ring.ensure_keys()
        db.session.commit()
    before = {k["kid"] for k in client.get("/jwks").get_json(force=True)["keys"]}
    client.get("/jwks")
    with sqlite_app.app_context():
        result = ring.rotate("ES256", force=True)
        db.session.commit()
    after = {k["kid"] for k in client.get("/jwks").get_json(force=True)["keys"]}
    assert result.next in after and result.next not in before


def test_jwks_changed_by_another_process_is_seen_within_the_key_cache_time(sqlite_app, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(ring, "time", clock)
    client = sqlite_app.test_client()
    with sqlite_app.app_context():
        ring.ensure_keys()
        db.session.commit()
        ring.invalidate_cache()
    client.get("/jwks")
    # Another process adds a key: nothing here hears of it.
    with sqlite_app.app_context():
        key = ring.create_key("ES256", KEY_CURRENT, utcnow())
        db.session.commit()
        kid = key.kid
    clock.now += ring.KEY_CACHE_SECONDS - 1
    assert kid not in client.get("/jwks").get_data(as_text=True)
    clock.now += 2
    assert kid in client.get("/jwks").get_data(as_text=True)
