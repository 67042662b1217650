"""The user's own pages."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from idp.account.service import recent_sign_ins
from idp.sessions import current_session

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("/")
def index():
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=request.full_path.rstrip("?")))
    return render_template(
        "account/index.html",
        user=sso.user,
        sso=sso,
        sign_ins=recent_sign_ins(sso.user.sub),
    )
