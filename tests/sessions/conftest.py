"""Fixtures of the session tests: relying parties registered straight in the database,
sign-ins through the authorization endpoint, and a real back-channel receiver."""

from __future__ import annotations

import pytest
from helpers.receiver import LogoutReceiver
from helpers.session_flow import REDIRECT_URI


@pytest.fixture
def app_config():
    # Deliveries run when a test says so (the worker), and may go to 127.0.0.1.
    return {"OUTBOUND_ALLOW_PRIVATE_TARGETS": True, "LOGOUT_DELIVER_IMMEDIATELY": False}


@pytest.fixture
def receiver():
    server = LogoutReceiver()
    yield server
    server.stop()


@pytest.fixture
def make_rp(app):
    """Factory: make_rp(client_id, name=..., **metadata) registers a first-party client."""

    def make(client_id: str, name: str | None = None, **metadata) -> str:
        from idp.clients.models import Client
        from idp.extensions import db

        with app.app_context():
            db.session.add(
                Client(
                    client_id=client_id,
                    client_metadata={
                        "client_name": name or client_id,
                        "redirect_uris": [REDIRECT_URI],
                        "grant_types": ["authorization_code", "refresh_token"],
                        "response_types": ["code"],
                        "token_endpoint_auth_method": "none",
                        "scope": "openid profile email",
                        **metadata,
                    },
                    first_party=True,
                )
            )
            db.session.commit()
        return client_id

    return make
