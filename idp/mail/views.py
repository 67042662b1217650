"""The development mailbox: /dev/mail lists the messages, /dev/mail/<id> shows one.

Only in development: in production the blueprint is not registered (404), and every view
checks again. The HTML part is never put into this page: it is served on its own, with
a policy that runs no script, loads nothing and makes it a sandboxed, unique origin, and
shown in a sandboxed iframe.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, render_template

from idp.mail import outbox
from idp.security import CSP_HEADER, allow_framing

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")

HTML_PART_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


@bp.before_request
def _development_only() -> None:
    if current_app.config["ENV"] == "production":
        abort(404)


@bp.get("")
def index() -> str:
    return render_template("devmail/index.html", messages=outbox.list_messages(limit=200))


# Ids are 32-bit integers: a larger number in the path is no message (not a database error).
MAX_ID = 2**31 - 1


def _message(message_id: int):
    row = outbox.get(message_id) if message_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


@bp.get("/<int:message_id>")
def message(message_id: int) -> Response:
    page = render_template("devmail/message.html", message=_message(message_id))
    return allow_framing(Response(page, mimetype="text/html"), ["'self'"])


@bp.get("/<int:message_id>/html")
def html_part(message_id: int) -> Response:
    response = Response(_message(message_id).html_body, mimetype="text/html")
    response.headers[CSP_HEADER] = HTML_PART_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def init_app(app: Flask) -> None:
    if app.config["ENV"] != "production":
        app.register_blueprint(bp)
