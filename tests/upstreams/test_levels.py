"""Levels through an upstream: the session's acr is what the settings' table maps the
upstream's acr/loAs to (never more), a relying party asking for more gets our second
factor as a step-up, and acr_values go upstream only as configured."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers.clients import make_client
from helpers.factors import code_for, enrol, give_code
from helpers.oidc_flow import REDIRECT_URI, RelyingParty, query_of
from helpers.upstreams import (
    UPSTREAM_EMAIL,
    UPSTREAM_PASSWORD,
    broker_config,
    broker_settings,
    query,
)
from joserfc import jwt

from idp.directory.store import find_user_by_sub
from idp.extensions import db
from idp.sessions.models import SsoSession
from idp.upstreams import configured
from idp.upstreams.config import link_key_for
from idp.upstreams.models import UpstreamSession
from idp.upstreams.store import add_link

NONCE = "n-levels"
LOA1, LOA2 = "urn:hg:loa:1", "urn:hg:loa:2"
CREDENTIALS = {"email": UPSTREAM_EMAIL, "password": UPSTREAM_PASSWORD}
NATIONAL_LEVELS = {"LoA1": LOA1, "LoA2": LOA2}


@pytest.fixture
def app_config(request, provider_upstream, hostile_upstream):
    forwarding = getattr(request, "param", None) == "forwarding"
    national = broker_settings(
        hostile_upstream.issuer,
        display_name="tài khoản Cổng Dịch vụ công quốc gia",
        scopes=["openid"],
        acr_values=["LoA1"],
        forward_acr_values=forwarding,
        link_claim="SoDinhDanh",
        level_claims=["acr", "loAs"],
        levels=NATIONAL_LEVELS,
        claims={
            "name": "hovaten",
            "birthdate": {"claim": "NgayThangNamSinh", "date_format": "%Y%m%d"},
            "locality": "DiaChi.XaPhuong",
        },
    )
    return broker_config({"corp": broker_settings(provider_upstream.issuer), "national": national})


def link(app, sub: str, name: str, value: str) -> None:
    with app.app_context():
        upstream = configured(app)[name]
        add_link(
            find_user_by_sub(sub),
            name,
            link_key_for(upstream, value, app.config),
            linked_by="admin",
        )
        db.session.commit()


def id_token_claims(rp: RelyingParty, response) -> dict:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    code = query_of(location)["code"]
    body = rp.exchange_code(code)
    return jwt.decode(body["id_token"], rp.jwks(), algorithms=["RS256"]).claims


def test_step_up_after_an_upstream_sign_in_asks_our_second_factor(
    app, client, make_user, provider_upstream, person
):
    sub = make_user()
    make_client(app)
    link(app, sub, "corp", provider_upstream.sub)
    rp = RelyingParty(client)
    assert person.sign_in("corp", "/account/", **CREDENTIALS).status_code == 302
    first = id_token_claims(rp, rp.authorize(nonce=NONCE, state="s"))
    assert first["acr"] == LOA1 and first["amr"] == ["fed"] and first["sub"] == sub

    secret, _ = enrol(app)
    response = rp.authorize(nonce=NONCE, state="s", acr_values=LOA2)
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login" and query_of(location)["step_up"] == "1"
    assert client.get(location).headers["Location"] == "/login/factor"
    back = give_code(client, code_for(secret))
    assert back.status_code == 302 and back.headers["Location"].startswith("/oauth2/authorize")
    stepped = id_token_claims(rp, client.get(back.headers["Location"]))
    assert stepped["acr"] == LOA2 and stepped["amr"] == ["fed", "otp", "mfa"]
    assert stepped["sid"] == first["sid"]


def national_sign_in(person, hostile_upstream, **bends):
    for name, value in bends.items():
        setattr(hostile_upstream.bends, name, value)
    location = person.to_upstream("national", "/account/")
    return location, person.back_at_broker(person.follow_upstream(location))


def test_the_national_portals_loa2_maps_to_our_second_level_and_claims_map(
    app, client, make_user, hostile_upstream, person
):
    sub = make_user()
    make_client(app)
    link(app, sub, "national", "001099012345")
    location, answer = national_sign_in(
        person,
        hostile_upstream,
        id_token_claims={"acr": "LoA1"},
        userinfo={
            "SoDinhDanh": "001099012345",
            "HoVaTen": "Nguyễn Văn An",
            "NgayThangNamSinh": "19900215",
            "DiaChi": {"XaPhuong": "Phường 1"},
            "loAs": ["LoA1", "LoA2"],
        },
    )
    assert query(location)["acr_values"] == "LoA1"
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/"
    with app.app_context():
        sso = db.session.execute(sa.select(SsoSession)).scalar_one()
        assert sso.acr == LOA2 and sso.amr == ["fed", "mfa"]
        row = db.session.execute(sa.select(UpstreamSession)).scalar_one()
        assert row.acr == "LoA1" and row.loas == ["LoA1", "LoA2"] and row.level == LOA2
    rp = RelyingParty(client)
    claims = id_token_claims(rp, rp.authorize(nonce=NONCE, state="s", acr_values=LOA2))
    assert claims["acr"] == LOA2


def test_an_unmapped_level_is_refused_without_a_session(app, make_user, hostile_upstream, person):
    sub = make_user()
    link(app, sub, "national", "001099012345")
    _location, answer = national_sign_in(
        person,
        hostile_upstream,
        id_token_claims={"acr": "LoA9"},
        userinfo={"SoDinhDanh": "001099012345"},
    )
    assert answer.status_code == 403
    assert 'data-code="level"' in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(SsoSession)).first() is None


def test_acr_values_are_forwarded_only_when_configured(app, hostile_upstream, person):
    location = person.to_upstream("national", "/account/", acr=LOA2)
    assert query(location)["acr_values"] == "LoA1"
    location = person.to_upstream("corp", "/account/", acr=LOA2)
    assert "acr_values" not in query(location)


@pytest.mark.parametrize("app_config", ["forwarding"], indirect=True)
def test_forwarded_acr_values_are_mapped_back_through_the_table(person):
    assert query(person.to_upstream("national", "/account/", acr=LOA2))["acr_values"] == "LoA2"
    assert query(person.to_upstream("national", "/account/"))["acr_values"] == "LoA1"


def test_a_fresh_sign_in_asked_by_a_relying_party_is_asked_of_the_upstream_too(
    app, client, make_user, provider_upstream, person
):
    sub = make_user()
    make_client(app)
    link(app, sub, "corp", provider_upstream.sub)
    rp = RelyingParty(client)
    assert person.sign_in("corp", "/account/", **CREDENTIALS).status_code == 302
    first = id_token_claims(rp, rp.authorize(nonce=NONCE, state="s"))
    response = rp.authorize(nonce=NONCE, state="s", prompt="login")
    login_url = response.headers["Location"]
    assert query_of(login_url)["force"] == "1"
    page = client.get(login_url).get_data(as_text=True)
    assert "force=1" in page.split('id="upstream-corp" href="')[1].split('"')[0]
    location = person.to_upstream("corp", query_of(login_url)["next"], force="1")
    assert query(location)["prompt"] == "login"
    # The upstream asks for the password again (its own session notwithstanding).
    back = person.back_at_broker(person.follow_upstream(location, **CREDENTIALS))
    assert person.upstream_logins == 2
    assert back.status_code == 302 and back.headers["Location"].startswith("/oauth2/authorize")
    again = id_token_claims(rp, client.get(back.headers["Location"]))
    assert again["sid"] == first["sid"] and again["auth_time"] >= first["auth_time"]
