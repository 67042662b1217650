"""Fixtures of the brokered sign-in tests: this provider as a real upstream on loopback
(one per module), a hostile upstream, and a person's browser (helpers/upstreams.py)."""

from __future__ import annotations

import pytest
from helpers.upstreams import (  # noqa: F401  fixtures
    fresh_upstream_caches,
    hostile_upstream,
    person,
    provider_upstream,
)


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_upstream_caches):  # noqa: F811  the fixture, by name
    yield
