"""The console's people pages: the search (admin.people), a person's page
(admin.people_show) and the actions on a person (admin.people_confirm, admin.people_act).

Every page and action asks idp.admin.permissions whether the person is in the
administrator's scope: someone outside it is a 403 page and an "admin.denied" audit event,
whatever the URL. Destructive actions go through a confirmation page; every form carries
the CSRF token (the application's CSRFProtect refuses a POST without it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp import audit, upstreams
from idp.admin import people_actions, permissions
from idp.admin.console import bp, console_page, denied, scope
from idp.admin.people_actions import ACTIONS, ActionRefused
from idp.audit import AuditEvent
from idp.directory.models import USER_STATUSES, Unit, User
from idp.directory.search import QUERY_MAX_LENGTH, search_people
from idp.directory.store import find_unit, find_user_by_sub
from idp.errors import render_error
from idp.extensions import commit, db
from idp.factors import service as factors
from idp.passkeys import service as passkeys
from idp.sessions import overview
from idp.upstreams import linking

PAGE_SIZE = 50
# Deep pages are refused rather than scanned: a search narrows better.
OFFSET_MAX = 100_000
SUB_MAX_LENGTH = 64
SID_MAX_LENGTH = 64
RECENT_EVENTS = 10


class BadFilter(ValueError):
    """A search parameter that cannot be used: the page says 400."""


def _offset(raw: str | None) -> int:
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > OFFSET_MAX:
        raise BadFilter("offset")
    return int(raw)


def _unit_filter(code: str) -> Unit | None:
    if not code:
        return None
    unit = find_unit(code) if len(code) <= 64 else None
    if unit is None:
        raise BadFilter("unit")
    return unit


def _search_args() -> dict[str, Any]:
    text = request.args.get("q", "")
    status = request.args.get("status", "")
    if len(text) > QUERY_MAX_LENGTH or "\x00" in text:
        raise BadFilter("q")
    if status and status not in USER_STATUSES:
        raise BadFilter("status")
    return {
        "q": text,
        "status": status,
        "unit": _unit_filter(request.args.get("unit", "").strip()),
        "offset": _offset(request.args.get("offset")),
    }


@bp.get("/people")
@console_page
def people():
    try:
        args = _search_args()
    except BadFilter:
        return render_error(400, message=_("Điều kiện tìm kiếm không hợp lệ."))
    unit = args["unit"]
    if unit is not None and not scope().covers_unit(unit.id):
        return denied(scope().actor)
    within = permissions.subtree_ids([unit.id]) if unit is not None else None
    page = search_people(
        args["q"],
        unit_ids=scope().people_units(within),
        status=args["status"] or None,
        offset=args["offset"],
        limit=PAGE_SIZE,
    )
    return render_template(
        "admin/people.html",
        page=page,
        q=args["q"],
        status=args["status"],
        unit=unit,
        offset=args["offset"],
        statuses=USER_STATUSES,
        page_size=PAGE_SIZE,
    )


def _person(sub: str) -> User | Any:
    """The person of the URL in the administrator's scope, or the response refusing it."""
    user = find_user_by_sub(sub) if len(sub) <= SUB_MAX_LENGTH else None
    if user is None:
        return make_response(render_error(404))
    if not scope().covers_user(user):
        return make_response(denied(scope().actor))
    return user


def _recent_events(user: User) -> list[AuditEvent]:
    query = (
        sa.select(AuditEvent)
        .where(sa.or_(AuditEvent.subject == user.sub, AuditEvent.actor == user.sub))
        .order_by(AuditEvent.id.desc())
        .limit(RECENT_EVENTS)
    )
    return list(db.session.scalars(scope().filter_events(query)))


def _upstream_links(user: User) -> list[dict[str, Any]]:
    """The person's links to upstream providers, named as the sign-in page names them
    (the settings' display_name; the bare name when the upstream is no longer configured)."""
    names = upstreams.configured(current_app)
    return [
        {
            "id": link.id,
            "upstream": link.upstream,
            "display_name": names[link.upstream].display_name
            if link.upstream in names
            else link.upstream,
            "linked_by": link.linked_by,
            "created_at": link.created_at,
            "last_used_at": link.last_used_at,
        }
        for link in linking.links_of(user)
    ]


@bp.get("/people/<sub>")
@console_page
def people_show(sub: str):
    user = _person(sub)
    if not isinstance(user, User):
        return user
    return render_template(
        "admin/person.html",
        person=user,
        unit_path=user.unit.path() if user.unit else [],
        admin_units=permissions.administered_units(user),
        factors=factors.summary(user),
        passkeys=passkeys.passkeys_of(user),
        sessions=overview.live_sessions(user.id),
        upstream_links=_upstream_links(user),
        events=_recent_events(user),
        done=request.args.get("done", ""),
        count=request.args.get("count", ""),
        may_grant=scope().may_grant(),
        is_self=user.sub == scope().actor,
    )


def _action_extra(name: str) -> dict[str, Any] | None:
    """The action's form fields (a session's sid, a unit's code); None when malformed."""
    if name == "end-sessions":
        sid = request.values.get("sid", "")
        if len(sid) > SID_MAX_LENGTH:
            return None
        return {"sid": sid or None}
    if name == "remove-upstream-link":
        link = request.values.get("link", "")
        if len(link) > 18 or (link and not link.isdigit()):
            return None
        return {"link_id": int(link) if link else None}
    if name in ("grant-unit", "revoke-unit"):
        code = request.values.get("unit", "").strip()
        return {"unit": find_unit(code) if code and len(code) <= 64 else None}
    return {}


def _checked_action(sub: str, name: str) -> tuple[User, dict[str, Any]] | Any:
    action = ACTIONS.get(name)
    if action is None:
        return make_response(render_error(404))
    user = _person(sub)
    if not isinstance(user, User):
        return user
    if action.super_only and not scope().may_grant():
        return make_response(denied(scope().actor))
    if not permissions.may_act_on(scope(), user):
        return make_response(denied(scope().actor))
    extra = _action_extra(name)
    if extra is None:
        return make_response(render_error(400))
    return user, extra


def _upstream_link_named(user: User, link_id: int | None) -> dict[str, Any] | None:
    return next((link for link in _upstream_links(user) if link["id"] == link_id), None)


@bp.get("/people/<sub>/<name>")
@console_page
def people_confirm(sub: str, name: str):
    checked = _checked_action(sub, name)
    if not isinstance(checked, tuple):
        return checked
    user, extra = checked
    link = _upstream_link_named(user, extra.get("link_id"))
    if name == "remove-upstream-link" and link is None:
        return render_error(404)
    return render_template(
        "admin/person_confirm.html",
        person=user,
        action=ACTIONS[name],
        sid=extra.get("sid") or "",
        unit=extra.get("unit"),
        unit_code=request.values.get("unit", ""),
        link=link,
    )


@bp.post("/people/<sub>/<name>")
@console_page
def people_act(sub: str, name: str):
    checked = _checked_action(sub, name)
    if not isinstance(checked, tuple):
        return checked
    user, extra = checked
    if ACTIONS[name].destructive and request.form.get("confirmed") != "yes":
        return people_confirm(sub, name)
    try:
        outcome = people_actions.run(name, user, scope(), audit.request_origin(), **extra)
    except ActionRefused as refused:
        db.session.rollback()
        return render_template("admin/person_refused.html", person=user, code=refused.code), 409
    commit()
    target = url_for("admin.people_show", sub=user.sub, done=outcome.code, count=outcome.count)
    return redirect(target, 303)


def _units_for_grant() -> list[Unit]:
    return list(db.session.scalars(sa.select(Unit).where(Unit.active).order_by(Unit.code)))


@bp.app_template_global("admin_grantable_units")
def admin_grantable_units() -> list[Unit]:
    """The units a super-administrator may make someone administrator of (the form's
    choices)."""
    if not g.get("admin_scope") or not scope().may_grant():
        return []
    return _units_for_grant()
