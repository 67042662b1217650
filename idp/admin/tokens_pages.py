"""Initial access tokens for dynamic registration (RFC 7591 section 3) in the console:
create (shown once), list, revoke. The same functions as `idp registration-token`."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for

from idp.admin.console import bp, console_page, super_only
from idp.clients import initial_access
from idp.errors import NotFound, ValidationFailed
from idp.extensions import commit, rollback

# Ids are INTEGER columns (32 bits on PostgreSQL): a larger number names no token.
MAX_TOKEN_ID = 2**31 - 1


def _page(**context):
    rows = initial_access.list_tokens()
    return render_template(
        "admin/clients/tokens.html",
        tokens=[(row, initial_access.state(row)) for row in rows],
        **context,
    )


def _uses(text: str) -> int | None:
    text = (text or "").strip().lower()
    if text in ("", "unlimited"):
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise ValidationFailed("uses")
    return int(text)


@bp.route("/clients/registration-tokens", methods=["GET", "POST"])
@console_page
@super_only
def clients_tokens():
    if request.method == "GET":
        return _page()
    form = {k: (request.form.get(k) or "")[:300] for k in ("expires_in", "uses", "note")}
    try:
        issued = initial_access.create_token(
            expires_in=initial_access.parse_duration(form["expires_in"] or "1d"),
            uses=_uses(form["uses"]),
            note=form["note"],
            actor=g.admin_user.sub,
        )
    except ValidationFailed:
        rollback()
        return _page(form=form, invalid=True), 400
    commit()
    return _page(issued=issued)


@bp.route("/clients/registration-tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@console_page
@super_only
def clients_tokens_revoke(token_id: int):
    if token_id > MAX_TOKEN_ID:
        abort(404)
    if request.method == "GET":
        return render_template("admin/clients/token_revoke.html", token_id=token_id)
    try:
        initial_access.revoke_token(token_id, actor=g.admin_user.sub)
    except NotFound:
        rollback()
        abort(404)
    commit()
    return redirect(url_for("admin.clients_tokens"))
