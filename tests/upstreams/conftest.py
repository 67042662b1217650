"""Fixtures of the brokered sign-in tests: this provider as a real upstream on loopback
(one per module), the broker (the `app` fixture) configured for it."""

from __future__ import annotations

import pytest
from helpers.upstreams import HostileUpstream, ProviderUpstream, UpstreamBrowser

from idp.upstreams import client


@pytest.fixture(autouse=True)
def _fresh_upstream_caches():
    # Discovery documents and keys are cached per process, by upstream name.
    client.forget_cached()
    yield
    client.forget_cached()


@pytest.fixture(scope="module")
def provider_upstream(sqlite_template, tmp_path_factory):
    upstream = ProviderUpstream(sqlite_template, tmp_path_factory.mktemp("upstream"))
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def hostile_upstream():
    upstream = HostileUpstream()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def person(app, client):
    browser = UpstreamBrowser(client)
    try:
        yield browser
    finally:
        browser.close()
