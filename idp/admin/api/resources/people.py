"""People in the admin API: GET /people (search, unit subtree, status; keyset pages),
GET /people/{sub}, and POST /people/{sub}/{action} for the console's actions on a person.

The same search (idp.directory.search.matching: folded names, address prefixes), the same
scope questions (idp.admin.permissions) and the same action functions
(idp.admin.people_actions) as the console's pages; the actor of every audit event is the
caller's (a person's sub, or an automation client's client_id). Making and revoking unit
administrators stays in the console.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import jsonify, request
from sqlalchemy.orm import selectinload

from idp import audit
from idp.admin import people_actions, permissions
from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.openapi import operation_doc
from idp.admin.api.paging import (
    BadValue,
    Filter,
    is_plain_text,
    page_of,
    page_schema,
    parse_query,
    query_parameters,
    text_filter,
    text_schema,
)
from idp.admin.api.problems import Problem, field_errors
from idp.admin.people_actions import ActionRefused
from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE
from idp.directory.models import USER_STATUSES, Unit, User
from idp.directory.search import QUERY_MAX_LENGTH, matching
from idp.directory.store import find_unit, find_user_by_sub
from idp.extensions import commit, db
from idp.factors import service as factors
from idp.passkeys import service as passkeys
from idp.sessions import overview
from idp.upstreams import linking

SUB_MAX_LENGTH = 64
SID_MAX_LENGTH = 64
UNIT_CODE_MAX_LENGTH = 64
# The actions of the API (the console's, less the unit administrators'), in the order of
# the document.
API_ACTIONS = (
    "disable",
    "enable",
    "unlock",
    "send-activation",
    "send-reset",
    "reset-factors",
    "end-sessions",
    "remove-upstream-link",
)
LINK_ID_MAX = 2**63 - 1


def _status(value: str) -> str:
    if value not in USER_STATUSES:
        raise BadValue("must be one of " + ", ".join(USER_STATUSES))
    return value


FILTERS = (
    Filter(
        "search",
        text_filter(QUERY_MAX_LENGTH),
        text_schema(QUERY_MAX_LENGTH),
        "A name with or without diacritics (anywhere in the name), or the beginning of any "
        "of the person's addresses.",
    ),
    Filter(
        "unit",
        text_filter(UNIT_CODE_MAX_LENGTH),
        text_schema(UNIT_CODE_MAX_LENGTH),
        "Only people of the unit with this code and of the units below it.",
    ),
    Filter("status", _status, {"type": "string", "enum": list(USER_STATUSES)}, "The state."),
)


def _unit_json(unit: Unit | None) -> dict[str, Any] | None:
    if unit is None:
        return None
    return {"code": unit.code, "name": unit.name, "path": [u.code for u in unit.path()]}


def person_summary(user: User) -> dict[str, Any]:
    return {
        "sub": user.sub,
        "email": user.email,
        "aliases": user.aliases,
        "name": user.name,
        "unit": _unit_json(user.unit),
        "status": user.status,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def person_detail(user: User) -> dict[str, Any]:
    summary = factors.summary(user)
    return {
        **person_summary(user),
        "family_name": user.family_name,
        "middle_name": user.middle_name,
        "given_name": user.given_name,
        "title": user.title,
        "roles": list(user.roles or []),
        "administers": [u.code for u in permissions.administered_units(user)],
        "has_password": user.password_hash is not None,
        "must_change_password": bool(user.must_change_password),
        "last_login_at": _iso(user.last_login_at),
        "factors": {
            "totp_since": _iso(summary.totp_since),
            "recovery_codes_left": summary.recovery_codes_left,
            "passkeys": [
                {"id": p.id, "name": p.name, "created_at": _iso(p.created_at)}
                for p in passkeys.passkeys_of(user)
            ],
        },
        "sessions": [
            {
                "sid": s.sid,
                "created_at": _iso(s.created_at),
                "last_seen_at": _iso(s.last_seen_at),
                "ip": s.ip,
                "device": s.device,
                "clients": s.app_ids,
            }
            for s in overview.live_sessions(user.id)
        ],
        "upstream_links": [
            {
                "id": link.id,
                "upstream": link.upstream,
                "linked_by": link.linked_by,
                "created_at": _iso(link.created_at),
                "last_used_at": _iso(link.last_used_at),
            }
            for link in linking.links_of(user)
        ],
    }


def _units_of(filters: dict[str, Any]) -> frozenset[int] | None:
    """The units whose people the list may show (None: everybody; none for an unknown
    code), or 403 when the caller names a unit outside their scope."""
    within = None
    if "unit" in filters:
        unit = find_unit(filters["unit"])
        if unit is None:
            return frozenset()  # no such unit: nobody (like /units?parent=...)
        if not scope().covers_unit(unit.id):
            raise deny(caller().actor)
        within = permissions.subtree_ids([unit.id])
    return scope().people_units(within)


@bp.get("/people")
@operation(ADMIN_READ)
def list_people():
    query = parse_query(FILTERS, key_types=(str, int))
    select = sa.select(User).options(selectinload(User.addresses), selectinload(User.unit))
    condition = matching(query.filters.get("search", ""))
    if condition is not None:
        select = select.where(condition)
    units = _units_of(query.filters)
    if units is not None:
        select = select.where(User.unit_id.in_(sorted(units)))
    if "status" in query.filters:
        select = select.where(User.status == query.filters["status"])
    return page_of(
        select,
        query.page,
        keys=(User.search_name, User.id),
        render=person_summary,
        key_of=lambda user: (user.search_name, user.id),
    )


def _person(sub: str) -> User:
    user = find_user_by_sub(sub) if is_plain_text(sub, SUB_MAX_LENGTH) else None
    if user is None:
        raise Problem(404, "No person has this sub.")
    if not scope().covers_user(user):
        raise deny(caller().actor)
    return user


@bp.get("/people/<sub>")
@operation(ADMIN_READ)
def get_person(sub: str):
    return jsonify(person_detail(_person(sub)))


def _sid() -> str | None:
    """end-sessions' optional `sid` query parameter (no other is accepted)."""
    errors = [
        {"parameter": name[:64], "detail": "is not a parameter of this operation"}
        for name in request.args
        if name != "sid"
    ]
    sid = request.args.get("sid")
    if sid is not None and (
        len(request.args.getlist("sid")) > 1 or not is_plain_text(sid, SID_MAX_LENGTH)
    ):
        errors.append({"parameter": "sid", "detail": "must be one session id"})
    if errors:
        raise field_errors(errors)
    return sid


def _link_id() -> int:
    """remove-upstream-link's `link` query parameter: the id of one of the person's links
    (`upstream_links` of the person)."""
    errors = [
        {"parameter": name[:64], "detail": "is not a parameter of this operation"}
        for name in request.args
        if name != "link"
    ]
    values = request.args.getlist("link")
    raw = values[0] if len(values) == 1 else ""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= LINK_ID_MAX):
        errors.append({"parameter": "link", "detail": "must be one link id"})
    if errors:
        raise field_errors(errors)
    return int(raw)


def _action_extra(name: str) -> dict[str, Any]:
    if name == "end-sessions":
        return {"sid": _sid()}
    if name == "remove-upstream-link":
        return {"link_id": _link_id()}
    if request.args:
        raise field_errors(
            [{"parameter": k[:64], "detail": "is not a parameter"} for k in request.args]
        )
    return {}


def _action_view(name: str) -> Callable[[str], Any]:
    def act(sub: str):
        extra = _action_extra(name)
        user = _person(sub)
        try:
            outcome = people_actions.run(name, user, scope(), audit.request_origin(), **extra)
        except ActionRefused as refused:
            db.session.rollback()
            raise Problem(409, refused.code.replace("_", " "), kind="conflict") from None
        commit()
        return jsonify({"sub": user.sub, "outcome": outcome.code, "count": outcome.count})

    act.__name__ = "person_" + name.replace("-", "_")
    return act


for _name in API_ACTIONS:
    bp.add_url_rule(
        f"/people/<sub>/{_name}",
        endpoint="person_" + _name.replace("-", "_"),
        view_func=operation(ADMIN_WRITE)(_action_view(_name)),
        methods=["POST"],
    )

_SUB_PARAMETER = {
    "name": "sub",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_SUMMARIES = {
    "disable": "Disable the account; its sessions end with single sign-out",
    "enable": "Enable a disabled account",
    "unlock": "Forget the account's failed sign-ins (end its sign-in delays)",
    "send-activation": "Mail the person a single-use activation link",
    "send-reset": "Mail the person a single-use password reset link",
    "reset-factors": "Remove the authenticator app, recovery codes and passkeys",
    "end-sessions": "End every session (or one, `sid`) with back-channel logout",
    "remove-upstream-link": "Remove one of the person's links to an upstream provider",
}
_OUTCOME = {
    "type": "object",
    "required": ["sub", "outcome", "count"],
    "properties": {
        "sub": {"type": "string"},
        "outcome": {
            "type": "string",
            "description": "What was done (e.g. disabled, already_disabled).",
        },
        "count": {"type": "integer", "description": "Sessions ended, or factors removed."},
    },
}


def _action_doc(name: str) -> dict[str, Any]:
    parameters = [_SUB_PARAMETER]
    if name == "end-sessions":
        parameters.append(
            {
                "name": "sid",
                "in": "query",
                "required": False,
                "description": "End only this session.",
                "schema": text_schema(SID_MAX_LENGTH),
            }
        )
    if name == "remove-upstream-link":
        parameters.append(
            {
                "name": "link",
                "in": "query",
                "required": True,
                "description": "The link's id (`upstream_links` of the person).",
                "schema": {"type": "integer", "minimum": 0, "maximum": LINK_ID_MAX},
            }
        )
    return operation_doc(
        _SUMMARIES[name],
        ADMIN_WRITE,
        ok=_OUTCOME,
        parameters=parameters,
        extra_statuses=(409, 422),
        tags=["people"],
        description="409 when it cannot be done (your own account, a closed session, a "
        "disabled account for a link, a link that is not the person's). "
        "An audit event with the caller as actor.",
    )


_NULLABLE_STRING = {"type": ["string", "null"]}
OPENAPI = {
    "paths": {
        "/people": {
            "get": operation_doc(
                "Find people the caller administers",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/PersonSummary"),
                parameters=query_parameters(FILTERS),
                tags=["people"],
                description="Ordered by name without diacritics. A unit administrator sees "
                "the people of their subtrees only; naming another unit is a 403.",
            )
        },
        "/people/{sub}": {
            "get": operation_doc(
                "One person: addresses, unit, roles, factors, live sessions",
                ADMIN_READ,
                ok={"$ref": "#/components/schemas/Person"},
                parameters=[_SUB_PARAMETER],
                tags=["people"],
                description="403 (and an audit event) for a person outside the caller's scope.",
            )
        },
        **{f"/people/{{sub}}/{name}": {"post": _action_doc(name)} for name in API_ACTIONS},
    },
    "components": {
        "schemas": {
            "PersonSummary": {
                "type": "object",
                "required": ["sub", "email", "aliases", "name", "unit", "status"],
                "properties": {
                    "sub": {"type": "string"},
                    "email": {"type": "string"},
                    "aliases": {"type": "array", "items": {"type": "string"}},
                    "name": {"type": "string"},
                    "unit": {
                        "type": ["object", "null"],
                        "properties": {
                            "code": {"type": "string"},
                            "name": {"type": "string"},
                            "path": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "status": {"type": "string", "enum": list(USER_STATUSES)},
                },
            },
            "Person": {
                "allOf": [
                    {"$ref": "#/components/schemas/PersonSummary"},
                    {
                        "type": "object",
                        "required": [
                            "roles",
                            "administers",
                            "factors",
                            "sessions",
                            "upstream_links",
                        ],
                        "properties": {
                            "family_name": {"type": "string"},
                            "middle_name": {"type": "string"},
                            "given_name": {"type": "string"},
                            "title": _NULLABLE_STRING,
                            "roles": {"type": "array", "items": {"type": "string"}},
                            "administers": {"type": "array", "items": {"type": "string"}},
                            "has_password": {"type": "boolean"},
                            "must_change_password": {"type": "boolean"},
                            "last_login_at": _NULLABLE_STRING,
                            "factors": {"type": "object"},
                            "sessions": {"type": "array", "items": {"type": "object"}},
                            "upstream_links": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "upstream", "linked_by", "created_at"],
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "upstream": {"type": "string"},
                                        "linked_by": {"type": "string"},
                                        "created_at": {"type": "string"},
                                        "last_used_at": _NULLABLE_STRING,
                                    },
                                },
                            },
                        },
                    },
                ]
            },
        }
    },
}
