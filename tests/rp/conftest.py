"""Fixtures of the relying-party tests: real software on 127.0.0.1, stopped afterwards.

Apache httpd with mod_auth_openidc and clients/demo-rp (Node.js, openid-client) sign in
through the provider served by a real HTTP server. Without Apache, its module, node or
npm (or without network for the first `npm ci`) the tests are skipped with the reason,
except with CI=true, where they fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import apache
from helpers.ci import unavailable
from helpers.live import (
    EMAIL,
    PASSWORD,
    Browser,
    LiveIdp,
    NodeRP,
    free_port,
    install_demo_rp,
    node_available,
    node_client_metadata,
)


@pytest.fixture(scope="session")
def demo_rp_ready() -> None:
    """node and npm present, and clients/demo-rp's packages installed once per session."""
    reason = node_available() or install_demo_rp()
    if reason:
        unavailable(reason)


@pytest.fixture
def apache_ready() -> None:
    reason = apache.available()
    if reason:
        unavailable(reason)


@pytest.fixture
def started() -> Iterator[Callable[[Any], Any]]:
    """Register something with a stop(); everything registered is stopped, last first."""
    things: list[Any] = []

    def register(thing: Any) -> Any:
        things.append(thing)
        return thing

    yield register
    errors = []
    for thing in reversed(things):
        try:
            thing.stop()
        except Exception as exc:  # stop the others anyway, then report
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


@dataclass
class Deployment:
    idp: LiveIdp
    apache: apache.ApacheRP
    node: NodeRP
    sub: str


@pytest.fixture
def deploy(started, tmp_path: Path, demo_rp_ready, apache_ready) -> Callable[..., Deployment]:
    """The provider with one user, Apache and the Node sample RP registered and running.

    `logout`: how both relying parties are told about a sign-out ("backchannel" or
    "frontchannel"). `deliver_immediately`: LOGOUT_DELIVER_IMMEDIATELY; with False only
    `idp worker` (started when `worker`) delivers the back-channel logout tokens.
    """

    def make(
        database_url: str,
        *,
        logout: str = "backchannel",
        deliver_immediately: bool = True,
        worker: bool = True,
    ) -> Deployment:
        idp = started(LiveIdp(database_url, LOGOUT_DELIVER_IMMEDIATELY=deliver_immediately))
        sub = idp.add_user(EMAIL, PASSWORD, family="Lê", middle="Thị", given="Hoa")
        apache_port, node_port = free_port(), free_port()
        apache_secret, node_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        idp.add_client(
            "apache-rp", apache_secret, apache.client_metadata(apache_port, logout=logout)
        )
        node_base = f"http://127.0.0.1:{node_port}"
        idp.add_client(
            "node-rp",
            node_secret,
            node_client_metadata(node_base, logout=logout, name="Ứng dụng mẫu Node.js"),
        )
        if worker:
            idp.start_worker()
        node = started(
            NodeRP(
                issuer=idp.issuer,
                client_id="node-rp",
                secret=node_secret,
                port=node_port,
                title="Ứng dụng mẫu",
            )
        )
        httpd = started(
            apache.start(
                tmp_path,
                issuer=idp.issuer,
                client_id="apache-rp",
                client_secret=apache_secret,
                port=apache_port,
            )
        )
        return Deployment(idp, httpd, node, sub)

    return make
