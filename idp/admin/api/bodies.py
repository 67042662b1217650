"""Request bodies of the admin API's writes: JSON objects, or a problem.

data = json_object()              # 415 unless application/json, 400 if not JSON,
                                  # 422 unless an object
name = required_text(data, "name", max_length=255, errors=errors)
if errors: raise field_errors(errors)
"""

from __future__ import annotations

from typing import Any

from flask import request

from idp import jsontext
from idp.admin.api.problems import Problem, field_errors

# The application's MAX_CONTENT_LENGTH bounds the body first; no body of the API nests
# deeper than client metadata with a JWK set (object, array, object).
MAX_BODY_BYTES = 1024 * 1024
MAX_BODY_DEPTH = 20


def json_object() -> dict[str, Any]:
    """The body as a JSON object (RFC 8259), or 415 / 400 / 422."""
    if request.mimetype != "application/json":
        raise Problem(415, "Send a JSON body (Content-Type: application/json).")
    try:
        data = jsontext.loads(
            request.get_data(cache=True), max_length=MAX_BODY_BYTES, max_depth=MAX_BODY_DEPTH
        )
    except jsontext.InvalidJson:
        # Not JSON, or nested deeper than any body of ours (json.loads would recurse into
        # a RecursionError): refused like any bad JSON.
        raise Problem(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise field_errors([{"pointer": "", "detail": "must be a JSON object"}])
    return data


def required_text(
    data: dict[str, Any], name: str, *, max_length: int, errors: list[dict[str, str]]
) -> str | None:
    """A non-empty string field; the problem is appended to `errors` (None returned)."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        errors.append(
            {"pointer": f"/{name}", "detail": f"must be a string of 1 to {max_length} characters"}
        )
        return None
    return value.strip()
