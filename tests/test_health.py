"""/healthz (the process answers) and /readyz (the database answers)."""

from __future__ import annotations

import logging

import pytest
from helpers.apps import app_on
from helpers.logs import idp_records


def test_healthz_and_readyz_when_all_is_well(client):
    alive = client.get("/healthz")
    assert alive.status_code == 200
    assert alive.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok"}
    assert alive.headers["Cache-Control"] == ready.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "url",
    [
        # Nothing listens on port 1: connection refused at once. The password must not leak.
        "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/x",
        "sqlite:////nonexistent-directory/for/sure/idp.sqlite3",
    ],
)
def test_readyz_is_503_json_when_the_database_is_unreachable(url, caplog):
    with app_on(url, {"LOG_FORMAT": "json"}) as app:
        client = app.test_client()
        # The process is alive even though the database is not.
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert "s3cret-pw" not in response.get_data(as_text=True)
    records = idp_records(caplog)
    assert [r.getMessage() for r in records] == ["readiness check failed"]
    formatted = logging.getLogger("idp").handlers[0].format(records[0])
    assert "s3cret-pw" not in formatted


def test_health_endpoints_answer_only_get(client):
    assert client.post("/healthz").status_code in (400, 405)
    assert client.delete("/readyz").status_code == 405
