"""The user's own pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for

from idp.audit import AuditEvent
from idp.extensions import db
from idp.interaction.forms import LogoutForm
from idp.sessions import current_session

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("/")
def index():
    sso = current_session()
    if sso is None:
        return redirect(url_for("interaction.login", next=request.full_path.rstrip("?")))
    user = sso.user
    sign_ins = db.session.execute(
        sa.select(AuditEvent)
        .where(AuditEvent.action == "login", AuditEvent.subject == user.sub, AuditEvent.outcome == "success")
        .order_by(AuditEvent.at.desc())
        .limit(10)
    ).scalars().all()
    return render_template(
        "account/index.html", user=user, sso=sso, sign_ins=sign_ins, logout_form=LogoutForm()
    )
