"""GET /audit: the audit log for programs, with the console's filters (idp.admin.audit_log)
and its scope (a unit administrator sees the events about people of their subtrees;
naming a person outside them is a 403). Newest first, by keyset on the event's id.
Times are ISO 8601 (`since` inclusive, `until` exclusive; without an offset, UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import jsonify

from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.openapi import operation_doc
from idp.admin.api.paging import (
    BadValue,
    Filter,
    PageRequest,
    next_page_url,
    page_schema,
    parse_query,
    query_parameters,
    text_filter,
    text_schema,
)
from idp.admin.audit_log import FIELD_MAX_LENGTH, Filters, filtered, person_outside_scope
from idp.admin.permissions import ADMIN_READ
from idp.audit import AuditEvent
from idp.extensions import db

_WORD_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_IP_RE = re.compile(r"^[0-9A-Fa-f.:]{1,64}$")


def _word(value: str) -> str:
    if not _WORD_RE.match(value):
        raise BadValue("must be 1 to 64 letters, digits, _ . : or -")
    return value


def _ip(value: str) -> str:
    if not _IP_RE.match(value):
        raise BadValue("must be the beginning of an IPv4 or IPv6 address")
    return value


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadValue("must be an ISO 8601 date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_WORD_SCHEMA = {"type": "string", "pattern": _WORD_RE.pattern}
_TIME_SCHEMA = {"type": "string", "format": "date-time"}
FILTERS = (
    Filter(
        "subject",
        text_filter(FIELD_MAX_LENGTH),
        text_schema(FIELD_MAX_LENGTH),
        "Events about a person: a sub, or an address (its owner's sub too).",
    ),
    Filter("actor", text_filter(FIELD_MAX_LENGTH), text_schema(FIELD_MAX_LENGTH), "Who acted."),
    Filter(
        "client",
        text_filter(FIELD_MAX_LENGTH),
        text_schema(FIELD_MAX_LENGTH),
        "Events an application caused or that are about it (its client_id).",
    ),
    Filter("action", _word, _WORD_SCHEMA, "The event, e.g. login or user.disable."),
    Filter("outcome", _word, _WORD_SCHEMA, "success, failure, throttled ..."),
    Filter("ip", _ip, {"type": "string", "pattern": _IP_RE.pattern}, "Address prefix."),
    Filter("since", _instant, _TIME_SCHEMA, "Events at or after this time."),
    Filter("until", _instant, _TIME_SCHEMA, "Events before this time."),
)


def event_json(event: AuditEvent) -> dict[str, Any]:
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
    return {
        "id": event.id,
        "at": at.isoformat(),
        "action": event.action,
        "outcome": event.outcome,
        "actor": event.actor,
        "subject": event.subject,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail,
    }


def _page(select: sa.Select, page: PageRequest):
    """Newest first: after the cursor's id means older than it (paging.page_of goes up)."""
    if page.after is not None:
        select = select.where(AuditEvent.id < page.after[0])
    rows = list(db.session.scalars(select.limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_url = next_page_url((rows[-1].id,), page.limit) if more and rows else None
    response = jsonify({"items": [event_json(e) for e in rows], "next": next_url})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


@bp.get("/audit")
@operation(ADMIN_READ)
def list_audit_events():
    query = parse_query(FILTERS, key_types=(int,))
    given = query.filters
    filters = Filters(
        subject=given.get("subject", ""),
        actor=given.get("actor", ""),
        client=given.get("client", ""),
        action=given.get("action", ""),
        outcome=given.get("outcome", ""),
        ip=given.get("ip", ""),
        start=given.get("since"),
        end=given.get("until"),
    )
    if filters.subject and person_outside_scope(filters.subject, scope()):
        raise deny(caller().actor)
    return _page(filtered(filters, scope()), query.page)


OPENAPI = {
    "paths": {
        "/audit": {
            "get": operation_doc(
                "The audit log, newest first",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/AuditEvent"),
                parameters=query_parameters(FILTERS),
                tags=["audit"],
                description="A unit administrator sees the events about people of their "
                "subtrees; a `subject` outside them is a 403.",
            )
        }
    },
    "components": {
        "schemas": {
            "AuditEvent": {
                "type": "object",
                "required": ["id", "at", "action", "outcome", "actor", "subject", "ip"],
                "properties": {
                    "id": {"type": "integer"},
                    "at": {"type": "string", "format": "date-time"},
                    "action": {"type": "string"},
                    "outcome": {"type": "string"},
                    "actor": {"type": "string"},
                    "subject": {"type": ["string", "null"]},
                    "ip": {"type": ["string", "null"]},
                    "user_agent": {"type": ["string", "null"]},
                    "detail": {"type": "object"},
                },
            }
        }
    },
}
