"""Fixtures of the attack tests."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture
def stopping():
    """Set when the test ends: hostile peers (helpers/hostile_peers.py) stop trickling."""
    event = threading.Event()
    yield event
    event.set()


# Upstream providers for brokered sign-in (tests/helpers/upstreams.py).
from helpers.upstreams import (  # noqa: E402, F401  fixtures
    fresh_upstream_caches,
    hostile_upstream,
    person,
    provider_upstream,
)
