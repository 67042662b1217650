"""Liveness and readiness endpoints for load balancers and orchestrators.

/healthz answers as long as the process serves requests; /readyz also runs `SELECT 1` on
the database and answers 503 when it cannot, so the load balancer stops sending traffic to
this worker until the database is back. Neither is ever cached.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, jsonify

from idp.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger("idp.health")


def _uncached(response: Response, status: int = 200) -> tuple[Response, int]:
    response.headers["Cache-Control"] = "no-store"
    return response, status


@bp.get("/healthz")
def healthz():
    """The process is alive and answering."""
    return _uncached(jsonify(status="ok"))


@bp.get("/readyz")
def readyz():
    """The database is reachable: this worker can serve requests."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        log.warning("readiness check failed", exc_info=True)
        db.session.rollback()
        return _uncached(jsonify(status="unavailable", database="unreachable"), 503)
    return _uncached(jsonify(status="ok", database="ok"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
