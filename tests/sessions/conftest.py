"""Fixtures of the session tests: relying parties registered straight in the database
(the back-channel `receiver` is tests/conftest.py's)."""

from __future__ import annotations

import pytest
from helpers.clients import make_client
from helpers.logout_flow import LOGOUT_TEST_CONFIG


@pytest.fixture
def app_config():
    # Deliveries run when a test says so (the worker), and may go to 127.0.0.1.
    return dict(LOGOUT_TEST_CONFIG)


@pytest.fixture
def make_rp(app):
    """Factory: make_rp(client_id, name=..., **metadata) registers a first-party client."""

    def make(client_id: str, name: str | None = None, **metadata) -> str:
        metadata.setdefault("scope", "openid profile email")
        return make_client(
            app,
            client_id,
            secret=None,
            auth_method="none",
            client_name=name or client_id,
            **metadata,
        )

    return make
