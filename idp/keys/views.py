"""The JWKS endpoint (RFC 7517), read by relying parties to validate our signatures."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from idp.extensions import commit
from idp.http import document_response
from idp.keys.ring import jwks_snapshot

bp = Blueprint("keys", __name__)


@bp.get("/jwks")
def jwks() -> Response:
    # Answered before Flask (idp.http) for as long as the key ring's cache holds this set.
    body, still_valid = jwks_snapshot()
    commit()  # the first keys of a new installation, if this request made them
    return document_response(
        body,
        mimetype="application/jwk-set+json",
        max_age=current_app.config["JWKS_MAX_AGE_SECONDS"],
        still_valid=still_valid,
    )
