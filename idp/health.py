"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Flask, jsonify

from idp.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger("idp.health")


@bp.get("/healthz")
def healthz():
    """The process is alive and answering."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database is reachable: this worker can serve requests."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        log.warning("readiness check failed", exc_info=True)
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
