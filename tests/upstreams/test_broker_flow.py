"""Signing in through an upstream provider: this provider as the upstream, on loopback,
reached over real HTTP; the broker is the app under test (docs/upstreams.md)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.upstreams import (
    UPSTREAM_EMAIL,
    UPSTREAM_PASSWORD,
    broker_config,
    broker_settings,
    query,
)

from idp.directory.store import find_user_by_sub
from idp.extensions import db
from idp.sessions.models import SsoSession
from idp.upstreams import configured
from idp.upstreams.config import link_key_for
from idp.upstreams.models import UpstreamLink, UpstreamPendingLink, UpstreamSession
from idp.upstreams.store import add_link, open_id_token

CREDENTIALS = {"email": UPSTREAM_EMAIL, "password": UPSTREAM_PASSWORD}


@pytest.fixture
def app_config(provider_upstream):
    return broker_config({"corp": broker_settings(provider_upstream.issuer)})


def link_person(app, sub: str, upstream_sub: str, name: str = "corp") -> None:
    with app.app_context():
        upstream = configured(app)[name]
        add_link(
            find_user_by_sub(sub),
            name,
            link_key_for(upstream, upstream_sub, app.config),
            linked_by="admin",
        )
        db.session.commit()


def sessions_of(app) -> list[SsoSession]:
    with app.app_context():
        return list(db.session.execute(sa.select(SsoSession)).scalars())


def test_the_sign_in_page_has_a_button_per_upstream(client):
    page = client.get("/login?next=/account/").get_data(as_text=True)
    assert "Đăng nhập bằng Nhà cung cấp thử nghiệm" in page
    assert 'href="/login/upstream/corp?next=/account/"' in page


def test_a_linked_person_signs_in_through_the_upstream(
    app, client, make_user, provider_upstream, person
):
    sub = make_user()
    link_person(app, sub, provider_upstream.sub)
    location = person.to_upstream("corp", "/account/")
    sent = query(location)
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["state"] and sent["nonce"] and "acr_values" not in sent
    answer = person.back_at_broker(person.follow_upstream(location, **CREDENTIALS))
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/"
    (sso,) = sessions_of(app)
    assert sso.acr == "urn:hg:loa:1" and sso.amr == ["fed"]
    with app.app_context():
        row = db.session.execute(sa.select(UpstreamSession)).scalar_one()
        assert row.upstream == "corp" and row.sub == provider_upstream.sub
        assert row.acr == "urn:hg:loa:1" and row.level == "urn:hg:loa:1" and row.sid
        token = open_id_token(app.config, row)
        assert token and token.count(".") == 2 and token not in row.id_token_sealed
        link = db.session.execute(sa.select(UpstreamLink)).scalar_one()
        assert link.last_used_at is not None and link.link_key.startswith("h1:")
    assert client.get("/account/").status_code == 200


def test_an_identity_without_a_link_goes_to_the_link_step_without_a_session(
    app, client, make_user, person
):
    make_user()
    answer = person.sign_in("corp", "/account/", **CREDENTIALS)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login/upstream/corp/link")
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "chưa được liên kết" in page.get_data(as_text=True)
    assert sessions_of(app) == []
    with app.app_context():
        assert db.session.execute(sa.select(UpstreamPendingLink)).scalar_one()


def test_the_link_step_without_a_pending_link_is_the_error_page(client):
    page = client.get("/login/upstream/corp/link")
    assert page.status_code == 400
    assert 'data-code="state"' in page.get_data(as_text=True)


def test_a_disabled_linked_person_is_refused(app, client, make_user, provider_upstream, person):
    sub = make_user(status="disabled")
    link_person(app, sub, provider_upstream.sub)
    answer = person.sign_in("corp", "/account/", **CREDENTIALS)
    assert answer.status_code == 403
    page = answer.get_data(as_text=True)
    assert "đã bị khóa hoặc ngừng sử dụng" in page and 'href="/login?next=/account/"' in page
    assert sessions_of(app) == []


def test_an_unknown_upstream_is_not_found(client):
    assert client.get("/login/upstream/nobody").status_code == 404


def test_upstream_sessions_are_found_by_sub_and_sid_while_live(
    app, client, make_user, provider_upstream, person
):
    from idp.sessions.store import end_session
    from idp.upstreams.store import upstream_sessions_of

    sub = make_user()
    link_person(app, sub, provider_upstream.sub)
    assert person.sign_in("corp", "/account/", **CREDENTIALS).status_code == 302
    with app.app_context():
        row = db.session.execute(sa.select(UpstreamSession)).scalar_one()
        assert upstream_sessions_of("corp", sub=provider_upstream.sub) == [row]
        assert upstream_sessions_of("corp", sid=row.sid) == [row]
        assert upstream_sessions_of("corp", sub=provider_upstream.sub, sid="other") == []
        assert upstream_sessions_of("other", sub=provider_upstream.sub) == []
        assert upstream_sessions_of("corp") == []
        end_session(row.sso_session, "logout")
        db.session.commit()
        assert upstream_sessions_of("corp", sub=provider_upstream.sub) == []
