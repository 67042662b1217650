"""`idp upstreams list` and `idp upstreams test NAME`: the configuration as read, and each
upstream's reachability, with a non-zero exit status on any problem."""

from __future__ import annotations

import json

import pytest
from helpers.live import free_port
from helpers.upstreams import broker_config, broker_settings


@pytest.fixture
def app_config(provider_upstream):
    closed = f"http://127.0.0.1:{free_port()}"
    return broker_config(
        {
            "corp": broker_settings(provider_upstream.issuer),
            "gone": broker_settings(closed, display_name="Gone"),
            "outside": broker_settings(provider_upstream.issuer, allow_private_addresses=False),
        }
    )


def test_list_shows_every_upstream_without_secrets(runner):
    result = runner.invoke(args=["upstreams", "list"])
    assert result.exit_code == 0
    assert "corp" in result.output and "gone" in result.output
    listed = json.loads(runner.invoke(args=["upstreams", "list", "--json"]).output)
    assert [u["name"] for u in listed] == ["corp", "gone", "outside"]
    assert "secret" not in json.dumps(listed).replace("client_secret_basic", "")


def test_a_reachable_upstream_passes(runner, provider_upstream):
    result = runner.invoke(args=["upstreams", "test", "corp"])
    assert result.exit_code == 0, result.output
    assert f"ok       discovery document read, issuer {provider_upstream.issuer}" in result.output
    assert "JWKS read" in result.output and "PROBLEM" not in result.output


def test_an_unreachable_upstream_fails_with_the_reason(runner):
    result = runner.invoke(args=["upstreams", "test", "gone"])
    assert result.exit_code == 1
    assert "PROBLEM  discovery: unreachable" in result.output


def test_an_upstream_on_a_private_address_needs_explicit_permission(runner):
    result = runner.invoke(args=["upstreams", "test", "outside", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert "non-public address" in report["problems"][0]


def test_an_unknown_name_is_an_error(runner):
    result = runner.invoke(args=["upstreams", "test", "nobody"])
    assert result.exit_code == 1 and "no upstream named 'nobody'" in result.output


def test_cleanup_removes_expired_pending_links(app, runner):
    from datetime import timedelta

    import sqlalchemy as sa

    from idp.extensions import db, utcnow
    from idp.upstreams.flow import VerifiedIdentity
    from idp.upstreams.models import UpstreamPendingLink
    from idp.upstreams.store import begin_pending_link

    identity = VerifiedIdentity(upstream="corp", sub="s", sid=None, link_key="k")
    with app.app_context():
        begin_pending_link(identity, app.config, utcnow() - timedelta(days=1))
        begin_pending_link(identity, app.config)
        db.session.commit()
    result = runner.invoke(args=["upstreams", "cleanup"])
    assert result.exit_code == 0 and "1 removed" in result.output
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(UpstreamPendingLink.id))).scalar() == 1
    jobs = [job.name for job in app.extensions["idp.worker.periodic"]]
    assert "remove expired upstream pending links" in jobs
