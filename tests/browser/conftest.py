"""What the page tests in a real browser share: the app and a stand-in relying party."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.live import Server


@pytest.fixture
def app(sqlite_app):
    """The page tests need one engine only: SQLite, as `make run` uses."""
    return sqlite_app


@pytest.fixture
def relying_party() -> Iterator[Server]:
    """A stand-in for a relying party's redirect URI, on another origin."""
    from flask import Flask

    rp = Flask("relying_party")

    @rp.get("/cb")
    def callback():
        return "<!doctype html><title>RP</title><p id=arrived>arrived at the relying party</p>"

    with Server(rp) as server:
        yield server
