"""RFC 9457 problem details: the one form of every admin API failure.

Every failure under /admin/api/v1 is `application/problem+json` with `type`, `title`,
`status`, `detail` and `instance` (the path asked for), whatever raised it: a view raising
`Problem`, a domain exception (idp.errors: NotFound 404, Conflict 409, ValidationFailed
422), Werkzeug's HTTP errors (404 for an unknown path, 405 with `Allow`, 413), the rate
limiter (429 with `Retry-After`), or an unexpected exception (logged, answered 500 without
detail; none is known). Field validation adds `errors`: one object per bad field, with
`detail` and either `pointer` (RFC 6901, into the JSON body) or `parameter` (a query
parameter's name).

`type` is "about:blank" for a plain HTTP status (its `title` is then the status phrase,
RFC 9457 4.2.1), or one of PROBLEM_TYPES, URNs of ours documented in docs/admin.md. Texts
are English, like OAuth's error descriptions: programs read `type`, people read `detail`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, json, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from idp import limits
from idp.errors import Conflict, IdpError, NotFound, ValidationFailed
from idp.extensions import db

log = logging.getLogger("idp.admin.api")

PROBLEM_MIMETYPE = "application/problem+json"
URN = "urn:hg:idp:problem:"
# Our problem types: slug -> title. Each is documented in docs/admin.md.
PROBLEM_TYPES = {
    "invalid-token": "The access token is missing, malformed, expired or revoked",
    "insufficient-user-authentication": "The sign-in behind the token is too weak",
    "insufficient-scope": "The access token's scopes do not allow this operation",
    "forbidden": "Outside what you administer",
    "validation": "The request has invalid fields",
    "conflict": "The change conflicts with the current state",
}


class Problem(Exception):
    """Raise in a view to answer with a problem object.

    `kind` is a slug of PROBLEM_TYPES, or None for "about:blank" (a plain HTTP status).
    `errors` lists field problems: {"detail": ..., "pointer": "/name"} or
    {"detail": ..., "parameter": "limit"}.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        kind: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or "")
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = errors
        self.headers = headers or {}


def field_errors(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    """422 with one entry per invalid field or parameter."""
    return Problem(
        422,
        detail or "; ".join(e["detail"] for e in errors[:5]),
        kind="validation",
        errors=errors,
    )


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": URN + problem.kind if problem.kind else "about:blank",
        "title": PROBLEM_TYPES[problem.kind] if problem.kind else status_phrase(problem.status),
        "status": problem.status,
        "detail": problem.detail or status_phrase(problem.status),
        "instance": request.path,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=problem.status, mimetype=PROBLEM_MIMETYPE
    )
    response.headers["Cache-Control"] = "no-store"
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def _from_http(exc: HTTPException) -> Problem:
    status = exc.code or 500
    headers: dict[str, str] = {}
    for name, value in exc.get_headers():
        if name.lower() in ("allow", "retry-after", "www-authenticate"):
            headers[name] = value
    if isinstance(exc, RateLimitExceeded):
        headers["Retry-After"] = str(limits.retry_after_seconds(exc))
    detail = {
        404: "No such resource.",
        405: "This resource does not take that method.",
        413: "The request body is too large.",
        415: "Send a JSON body (Content-Type: application/json).",
        429: "Too many requests; try again after the time given in Retry-After.",
    }.get(status)
    if status >= 500:
        detail = "The server could not answer; try again later."
    return Problem(status, detail, headers=headers)


def as_problem(exc: Exception) -> Problem:
    """The problem object an exception is answered with."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, HTTPException):
        return _from_http(exc)
    if isinstance(exc, NotFound):
        return Problem(404, str(exc) or "No such resource.")
    if isinstance(exc, Conflict):
        return Problem(409, str(exc) or None, kind="conflict")
    if isinstance(exc, ValidationFailed):
        field = getattr(exc, "field", None)
        errors = [{"detail": str(exc), "pointer": f"/{field}"}] if field else []
        return Problem(422, str(exc), kind="validation", errors=errors)
    if isinstance(exc, IdpError):
        return Problem(400, str(exc) or None)
    log.error("unhandled exception on %s %s", request.method, request.path, exc_info=exc)
    return Problem(500, "The server could not answer; try again later.")


def handle(exc: Exception) -> Response:
    """The blueprint's (and, for paths no view matched, the application's) error handler."""
    problem = as_problem(exc)
    # A failed call changes nothing (what must stay, such as a refusal's audit event, was
    # committed before raising).
    try:
        db.session.rollback()
    except Exception:  # the session may itself be broken
        log.debug("rollback after error failed", exc_info=True)
    return problem_response(problem)
