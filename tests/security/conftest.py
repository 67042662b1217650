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
