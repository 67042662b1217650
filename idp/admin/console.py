"""The console at /admin: server-rendered pages for administrators.

Every page goes through `console_page`: a session, an administration scope
(idp.admin.permissions), and the stronger level of assurance (urn:hg:loa:2 or above: a
password and a second factor, or a passkey); a session at the password level is sent to the
factor page first (step-up) and comes back. The level must be reached by our own factors:
an upstream sign-in (idp.upstreams) counts as a first factor only here, whatever level its
settings map it to (idp.assurance.acr_by_own_factors). Forms are CSRF-protected by the
application's CSRFProtect; every change is an audit event whose actor is the administrator's sub.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from idp import audit
from idp.admin import permissions
from idp.admin.permissions import AdminScope
from idp.assurance import ACR_MFA, acr_by_own_factors, rank
from idp.directory import guards, hooks
from idp.directory.models import Unit
from idp.errors import csrf_refused, render_error
from idp.extensions import commit, db
from idp.sessions import current_session

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The level every console page asks for.
CONSOLE_ACR = ACR_MFA


def scope() -> AdminScope:
    """The administrator's scope for this request (set by console_page)."""
    return g.admin_scope


def _login_again() -> Any:
    query = urlencode({"next": request.full_path.rstrip("?")})
    return redirect(url_for("interaction.login") + "?" + query)


def _step_up() -> Any:
    query = urlencode({"step_up": "1", "enrol": "1", "next": request.full_path.rstrip("?")})
    return redirect(url_for("interaction.login") + "?" + query)


def denied(actor: str) -> Any:
    """403 for a page outside the administrator's scope (or for a non-administrator), with
    an audit event."""
    permissions.record_denied(actor, request.path, audit.request_origin())
    commit()
    return render_error(403)


def reached_by_own_factors(sso) -> bool:
    """Whether the session reaches the console's level by our own factors: an upstream
    sign-in counts as a first factor only, whatever level it is mapped to, so an
    administrator linked to an upstream still adds a second factor of ours (step-up)."""
    done = sso.auth_times if sso.auth_times is not None else (sso.amr or [])
    return rank(acr_by_own_factors(done)) >= rank(CONSOLE_ACR)


def console_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A console page: signed in, an administrator, at the stronger level."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        sso = current_session()
        if sso is None:
            return _login_again()
        admin_scope = permissions.scope_for_user(sso.user)
        if admin_scope is None:
            return denied(sso.user.sub)
        if rank(sso.acr) < rank(CONSOLE_ACR) or not reached_by_own_factors(sso):
            return _step_up()
        _enter(sso.user, admin_scope)
        return view(*args, **kwargs)

    return guarded


def _enter(user: Any, admin_scope: AdminScope) -> None:
    g.admin_scope = admin_scope
    g.admin_user = user
    # Error pages of the console keep its menu (idp.errors.render_error).
    g.error_template = "admin/error.html"


@bp.errorhandler(CSRFError)
def _csrf_in_console(_exc: CSRFError) -> Any:
    """A refused form of the console (checked before any view ran): the page keeps the
    console's menu when the person is an administrator at the console's level."""
    sso = current_session()
    admin_scope = permissions.scope_for_user(sso.user) if sso is not None else None
    if admin_scope is not None and rank(sso.acr) >= rank(CONSOLE_ACR):
        _enter(sso.user, admin_scope)
    return csrf_refused()


def super_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for provincial super-administrators only (applications, keys, deliveries);
    use under console_page."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not scope().is_super:
            return denied(scope().actor)
        return view(*args, **kwargs)

    return guarded


@bp.after_request
def _private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@console_page
def home():
    return render_template(
        "admin/home.html",
        admin=g.admin_user,
        admin_scope=scope(),
        units=permissions.administered_units(g.admin_user),
    )


def _units_merged(_app: Flask, source_id: int, target_id: int) -> None:
    source, target = db.session.get(Unit, source_id), db.session.get(Unit, target_id)
    if source is not None and target is not None:
        permissions.move_grants(source, target)


@bp.context_processor
def _endpoints() -> dict[str, Any]:
    """admin_endpoints() in templates: the console's pages that exist, for its menu."""
    names = frozenset(current_app.view_functions)
    return {"admin_endpoints": lambda: names}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    hooks.units_merged.connect(_units_merged, sender=app, weak=False)
    # Unit administrators are never linked to an upstream by e-mail nor adopted by a sync.
    guards.register(app, "unit_admin", permissions.administering, privileged=True)
