"""A hostile or broken upstream provider cannot sign anyone in (docs/upstreams.md,
"Security choices"): every bad answer ends on the error page in the person's language
with a way back, creates no session, and is an audit event.

The upstream is a real OpenID provider on 127.0.0.1 (helpers/upstreams.HostileUpstream)
bent one way per test; the person is linked, so a check that failed to refuse would sign
them in.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from helpers.upstreams import HostileUpstream, broker_config, broker_settings

from idp.audit import AuditEvent
from idp.directory.store import find_user_by_sub
from idp.extensions import db
from idp.sessions.models import SsoSession
from idp.upstreams import configured
from idp.upstreams.config import link_key_for
from idp.upstreams.store import add_link

HTTP_SECONDS = 1


@pytest.fixture
def other_upstream():
    upstream = HostileUpstream()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def app_config(request, hostile_upstream, other_upstream):
    """`indirect` parameters: changes to the hostile upstream's table, and `_config` for
    the broker's own settings."""
    changes = dict(getattr(request, "param", None) or {})
    config = changes.pop("_config", {})

    def table(upstream, **more):
        return broker_settings(upstream.issuer, **{"scopes": ["openid"], "claims": {}, **more})

    upstreams = {"hostile": table(hostile_upstream, **changes), "other": table(other_upstream)}
    return {
        **broker_config(upstreams),
        "UPSTREAM_HTTP_SECONDS": HTTP_SECONDS,
        "UPSTREAM_JWKS_REFETCH_MIN_SECONDS": 60,
        **config,
    }


@pytest.fixture
def linked(app, make_user, hostile_upstream):
    sub = make_user()
    with app.app_context():
        upstream = configured(app)["hostile"]
        add_link(
            find_user_by_sub(sub),
            "hostile",
            link_key_for(upstream, hostile_upstream.sub, app.config),
            linked_by="admin",
        )
        db.session.commit()
    return sub


def attempt(person, upstream, **bends):
    for name, value in bends.items():
        setattr(upstream.bends, name, value)
    location = person.to_upstream("hostile", "/account/")
    return person.back_at_broker(person.follow_upstream(location))


def assert_refused(
    app, answer, code: str, status: int = 502, back: str = "/login?next=/account/"
) -> None:
    """The error page (with the way back: to where they were going when the browser's
    sign-in says it), no session, one audit event."""
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page[:500]
    assert f'data-code="{code}"' in page
    assert f'id="back-to-login" href="{back}"' in page
    assert "Không đăng nhập được" in page
    with app.app_context():
        assert db.session.execute(sa.select(SsoSession)).first() is None
        events = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "upstream.login")
        ).scalars()
        assert [e.detail["reason"] for e in events if e.outcome == "failure"] == [code]


def test_the_well_behaved_upstream_signs_the_linked_person_in(
    app, linked, hostile_upstream, person
):
    answer = attempt(person, hostile_upstream)
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/"


@pytest.mark.parametrize(
    ("bends", "code"),
    [
        ({"id_token_claims": {"iss": "http://127.0.0.1:1"}}, "issuer"),
        ({"signing": "other-key"}, "id_token"),
        ({"signing": "none"}, "id_token"),
        ({"signing": "hs256-public"}, "id_token"),
        ({"drop_claims": ("nonce",)}, "nonce"),
        ({"id_token_claims": {"nonce": "someone-elses"}}, "nonce"),
        ({"id_token_claims": {"exp": int(time.time()) - 3600}}, "expired"),
        ({"id_token_claims": {"iat": int(time.time()) - 7200}}, "expired"),
        ({"id_token_claims": {"aud": ["broker", "another-client"]}}, "id_token"),
        ({"id_token_claims": {"aud": "another-client"}}, "id_token"),
        ({"id_token_claims": {"azp": "another-client"}}, "id_token"),
        ({"drop_claims": ("exp",)}, "id_token"),
        ({"id_token_claims": {"sub": ""}}, "id_token"),
    ],
)
def test_a_bad_id_token_signs_nobody_in(app, linked, hostile_upstream, person, bends, code):
    assert_refused(app, attempt(person, hostile_upstream, **bends), code)


HS256_ALLOWED = {"id_token_signing_alg_values": ["RS256", "HS256"]}


@pytest.mark.parametrize("app_config", [HS256_ALLOWED], indirect=True)
def test_hs256_where_allowed_is_keyed_with_the_client_secret_never_the_public_key(
    app, linked, hostile_upstream, person
):
    assert_refused(app, attempt(person, hostile_upstream, signing="hs256-public"), "id_token")
    answer = attempt(person, hostile_upstream, signing="hs256-secret")
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/"


USERINFO_ALWAYS = {"userinfo": "always", "claims": {"name": "name"}}


@pytest.mark.parametrize("app_config", [USERINFO_ALWAYS], indirect=True)
def test_userinfo_whose_sub_is_not_the_id_tokens_is_refused(app, linked, hostile_upstream, person):
    answer = attempt(person, hostile_upstream, userinfo={"sub": "someone-else"})
    assert_refused(app, answer, "userinfo")


@pytest.mark.parametrize("app_config", [USERINFO_ALWAYS], indirect=True)
def test_userinfo_is_read_and_mapped_when_asked(app, linked, hostile_upstream, person):
    answer = attempt(person, hostile_upstream, userinfo={"name": "Tên từ userinfo"})
    assert answer.status_code == 302
    assert "/userinfo" in hostile_upstream.hits


# ---------------------------------------------------------------- state and mix-up


def test_a_callback_replayed_in_the_same_browser_is_refused(app, linked, hostile_upstream, person):
    location = person.to_upstream("hostile", "/account/")
    callback = person.follow_upstream(location)
    assert person.back_at_broker(callback).status_code == 302
    with app.app_context():
        db.session.execute(sa.delete(SsoSession))
        db.session.commit()
    person.broker.delete_cookie("idp_sso")
    assert_refused(app, person.back_at_broker(callback), "state", 400, back="/login")


def test_a_callback_without_the_browsers_sign_in_is_refused(
    app, client, linked, hostile_upstream, person
):
    location = person.to_upstream("hostile", "/account/")
    callback = person.follow_upstream(location)
    client.delete_cookie("idp_upstream")  # another browser: the attacker's callback URL
    answer = person.back_at_broker(callback)
    assert answer.status_code == 400 and 'data-code="state"' in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(SsoSession)).first() is None


def test_a_wrong_state_is_refused(app, linked, hostile_upstream, person):
    location = person.to_upstream("hostile", "/account/")
    callback = person.follow_upstream(location).replace("state=", "state=x")
    assert_refused(app, person.back_at_broker(callback), "state", 400)


def test_a_flow_started_for_another_upstream_is_refused(app, linked, hostile_upstream, person):
    location = person.to_upstream("other", "/account/")
    callback = person.follow_upstream(location).replace("/upstream/other/", "/upstream/hostile/")
    assert_refused(app, person.back_at_broker(callback), "state", 400, back="/login")


def test_an_answer_naming_another_upstream_is_a_mix_up(
    app, linked, hostile_upstream, other_upstream, person
):
    answer = attempt(person, hostile_upstream, response_iss=other_upstream.issuer)
    assert_refused(app, answer, "issuer")


def test_an_answer_without_iss_from_an_upstream_promising_it_is_refused(
    app, linked, hostile_upstream, person
):
    assert_refused(app, attempt(person, hostile_upstream, omit_response_iss=True), "issuer")


def test_a_discovery_document_naming_another_issuer_is_refused(
    app, linked, hostile_upstream, other_upstream, person
):
    hostile_upstream.bends.discovery_issuer = other_upstream.issuer
    answer = person.start("hostile", "/account/")
    assert_refused(app, answer, "issuer")


def test_the_upstreams_error_is_shown_in_the_persons_language(
    app, linked, hostile_upstream, person
):
    answer = attempt(person, hostile_upstream, error="access_denied")
    assert_refused(app, answer, "upstream_error", 403)
    assert "Bạn đã hủy hoặc từ chối đăng nhập" in answer.get_data(as_text=True)
    person.broker.set_cookie("idp_lang", "en")
    answer = attempt(person, hostile_upstream, error="access_denied")
    assert "You cancelled or refused" in answer.get_data(as_text=True)


# ---------------------------------------------------------------- the upstream's servers


def test_a_slow_token_endpoint_ends_at_the_deadline(app, linked, hostile_upstream, person):
    started = time.monotonic()
    answer = attempt(person, hostile_upstream, token_delay=HTTP_SECONDS + 5)
    assert time.monotonic() - started < HTTP_SECONDS + 3
    assert_refused(app, answer, "slow", 504)


def test_a_huge_token_response_is_not_read(app, linked, hostile_upstream, person):
    answer = attempt(person, hostile_upstream, token_body=b"{" + b" " * 2_000_000 + b"}")
    assert_refused(app, answer, "bad_answer")


def test_a_discovery_document_pointing_at_the_metadata_service_is_not_followed(
    app, linked, hostile_upstream, person
):
    hostile_upstream.bends.discovery_extra = {
        "jwks_uri": "http://169.254.169.254/latest/meta-data/iam"
    }
    answer = attempt(person, hostile_upstream)
    assert_refused(app, answer, "unreachable")


@pytest.mark.parametrize("app_config", [{"allow_private_addresses": False}], indirect=True)
def test_an_upstream_on_a_private_address_is_not_called_without_permission(
    app, linked, hostile_upstream, person
):
    answer = person.start("hostile", "/account/")
    assert_refused(app, answer, "unreachable")
    assert hostile_upstream.hits == []


# ---------------------------------------------------------------- keys


def test_an_unknown_kid_refetches_the_keys_at_most_once_per_interval(
    app, linked, hostile_upstream, person
):
    assert attempt(person, hostile_upstream).status_code == 302  # keys cached
    with app.app_context():
        db.session.execute(sa.delete(SsoSession))
        db.session.commit()
    person.broker.delete_cookie("idp_sso")
    fetched = hostile_upstream.hits.count("/jwks")
    for _ in range(3):
        answer = attempt(person, hostile_upstream, signing="unknown-kid")
        assert answer.status_code == 502
    # One refetch for the first unknown kid would be allowed after the interval; within
    # it, none: forged kids cannot make us hammer the upstream.
    assert hostile_upstream.hits.count("/jwks") == fetched


@pytest.mark.parametrize(
    "app_config", [{"_config": {"UPSTREAM_JWKS_REFETCH_MIN_SECONDS": 0.05}}], indirect=True
)
def test_a_rolled_over_key_is_fetched_once_its_kid_is_seen(app, linked, hostile_upstream, person):
    from joserfc.jwk import RSAKey

    assert attempt(person, hostile_upstream).status_code == 302
    with app.app_context():
        db.session.execute(sa.delete(SsoSession))
        db.session.commit()
    person.broker.delete_cookie("idp_sso")
    hostile_upstream.key = RSAKey.generate_key(2048, parameters={"kid": "up-2", "use": "sig"})
    time.sleep(0.1)
    answer = attempt(person, hostile_upstream, kid="up-2")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:400]


# ---------------------------------------------------------------- hostile parameters

HOSTILE_VALUES = [
    "",
    " ",
    "x" * 20000,
    "\x00",
    "a\x00b",
    "\r\n",
    "//evil.example/",
    "/\\evil.example",
    "javascript:alert(1)",
    "urn:hg:loa:9",
    "Đăng nhập",
]
# Sent as they are: percent-encodings that are not UTF-8 (a lone surrogate, bad bytes).
RAW_VALUES = ["%ff%fe", "%ed%a0%80", "%", "%zz"]


def test_hostile_parameters_never_break_the_pages(app, hostile_upstream, caplog):
    """Every parameter of the three routes gets every hostile value (with and without a
    sign-in started in the browser): an answer below 500, nothing logged at ERROR.
    (tests/security/test_no_server_errors.py lists these routes as fuzzed here.)"""
    import logging

    problems = []
    params_of = {
        "/login/upstream/hostile": ["next", "acr", "force"],
        "/login/upstream/hostile/callback": ["state", "code", "iss", "error"],
        "/login/upstream/hostile/link": ["next"],
    }
    for path, names in params_of.items():
        for name in names:
            for value in HOSTILE_VALUES:
                for started in (False, True):
                    http = app.test_client()
                    if started:
                        http.get("/login/upstream/hostile?next=/account/")
                    for method in ("GET", "POST") if path.endswith("/link") else ("GET",):
                        answer = http.open(path, method=method, query_string=[(name, value)])
                        if answer.status_code >= 500:
                            problems.append(f"{answer.status_code} {method} {path} {name}")
                    for raw in RAW_VALUES:
                        answer = http.get(path, query_string=f"{name}={raw}&state={raw}")
                        if answer.status_code >= 500:
                            problems.append(f"{answer.status_code} {method} {path} {name}")
    for path in ("/login/upstream/%00", "/login/upstream/" + "x" * 5000 + "/callback"):
        if app.test_client().get(path).status_code >= 500:
            problems.append(path)
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not problems and not logged, (problems[:10], [r.getMessage() for r in logged][:5])


def test_an_upstream_that_fails_is_not_asked_again_on_every_click(
    app, linked, hostile_upstream, person, monkeypatch
):
    from idp.upstreams import client

    monkeypatch.setattr(client, "METADATA_RETRY_SECONDS", 1.0)
    hostile_upstream.bends.discovery_status = 500
    for _ in range(3):
        assert person.start("hostile", "/account/").status_code == 502
    assert hostile_upstream.hits.count("/.well-known/openid-configuration") == 1
    # Once it answers again (after the retry interval), sign-in works.
    hostile_upstream.bends.discovery_status = 200
    time.sleep(1.2)
    assert attempt(person, hostile_upstream).status_code == 302
