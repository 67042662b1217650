"""An upstream's level is not ours to trust with administration (docs/admin.md).

The national portal's LoA2 maps to our urn:hg:loa:2, which relying parties accept. An
administrator linked to such an upstream must not reach the console, nor use an admin API
token, with the upstream's word for the second factor: whoever holds that upstream account
(phished there, a weaker factor there, a compromised upstream) would administer the
province. The console sends such a session to our factor page (step-up), and a token from
it is refused with insufficient_user_authentication; after our own second factor both work.
(Real upstream on 127.0.0.1, SQLite and PostgreSQL.)
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from helpers.admin_api import API, bearer, make_tool_client, problem
from helpers.factors import code_for, enrol, give_code
from helpers.oidc_flow import RelyingParty
from helpers.people import EMAIL
from helpers.upstreams import broker_config, broker_settings

from idp.directory.store import find_user_by_sub
from idp.extensions import db
from idp.sessions.models import SsoSession
from idp.upstreams import configured
from idp.upstreams.config import link_key_for
from idp.upstreams.store import add_link

LOA2 = "urn:hg:loa:2"
CITIZEN_ID = "001099012345"


@pytest.fixture
def app_config(hostile_upstream):
    national = broker_settings(
        hostile_upstream.issuer,
        scopes=["openid"],
        link_claim="SoDinhDanh",
        level_claims=["acr", "loAs"],
        levels={"LoA1": "urn:hg:loa:1", "LoA2": LOA2},
        claims={"name": "hovaten"},
    )
    return broker_config({"national": national})


@pytest.fixture
def admin_through_portal(app, make_user, hostile_upstream, person):
    """A super-administrator with an authenticator, linked to the portal, signed in there
    at LoA2 (our urn:hg:loa:2): returns the authenticator's secret."""
    sub = make_user(roles=["admin"])
    secret, _codes = enrol(app, EMAIL)
    with app.app_context():
        upstream = configured(app)["national"]
        add_link(
            find_user_by_sub(sub),
            "national",
            link_key_for(upstream, CITIZEN_ID, app.config),
            linked_by="admin",
        )
        db.session.commit()
    hostile_upstream.bends.id_token_claims = {"acr": "LoA2"}
    hostile_upstream.bends.userinfo = {"SoDinhDanh": CITIZEN_ID, "HoVaTen": "Nguyễn Văn An"}
    location = person.to_upstream("national", "/account/")
    answer = person.back_at_broker(person.follow_upstream(location))
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/"
    with app.app_context():
        sso = db.session.execute(sa.select(SsoSession)).scalar_one()
        assert sso.acr == LOA2  # the upstream's level, as relying parties see it
    return secret


def test_the_console_asks_our_second_factor_after_an_upstream_loa2(client, admin_through_portal):
    answer = client.get("/admin/")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/login" and parse_qs(target.query)["step_up"] == ["1"]
    assert client.get(answer.headers["Location"]).headers["Location"] == "/login/factor"
    back = give_code(client, code_for(admin_through_portal))
    assert back.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_api_token_from_an_upstream_loa2_is_refused_until_our_factor(
    app, client, admin_through_portal
):
    make_tool_client(app)
    relying_party = RelyingParty(client, "admin-tool")
    token = relying_party.tokens(login=False, scope="openid admin:read")["access_token"]
    answer = client.get(f"{API}/me", headers=bearer(token))
    assert problem(answer, 401)["type"] == ("urn:hg:idp:problem:insufficient-user-authentication")
    assert 'acr_values="urn:hg:loa:2"' in answer.headers["WWW-Authenticate"]
    # Our own second factor (the step-up the console asks for), then a new token works.
    step_up = client.get("/login?step_up=1&next=/account/")
    assert step_up.headers["Location"] == "/login/factor"
    assert give_code(client, code_for(admin_through_portal)).status_code == 302
    token = relying_party.tokens(login=False, scope="openid admin:read")["access_token"]
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
