"""The JWKS endpoint (RFC 7517), read by relying parties to validate our signatures."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from idp.keys.ring import jwks_document

bp = Blueprint("keys", __name__)


@bp.get("/jwks")
def jwks() -> Response:
    response = Response(jwks_document(), mimetype="application/jwk-set+json")
    max_age = current_app.config["JWKS_MAX_AGE_SECONDS"]
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
