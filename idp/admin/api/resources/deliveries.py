"""The outboxes in the admin API: back-channel logout notices and e-mail, listed with
filters, and "retry now" (idp.sessions.outbox.requeue, idp.mail.outbox.requeue), as on the
console's deliveries page. Super-administrators only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import jsonify

from idp.admin import delivery_retries
from idp.admin.api.auth import caller, deny, operation, scope
from idp.admin.api.blueprint import bp
from idp.admin.api.bodies import json_object
from idp.admin.api.openapi import operation_doc
from idp.admin.api.paging import (
    BadValue,
    Filter,
    page_of,
    page_schema,
    parse_query,
    query_parameters,
    text_filter,
    text_schema,
)
from idp.admin.api.problems import field_errors
from idp.admin.permissions import ADMIN_READ, ADMIN_WRITE
from idp.extensions import commit
from idp.mail import outbox as mail_outbox
from idp.mail.models import MAIL_STATUSES, MailMessage
from idp.sessions.models import DELIVERY_STATUSES, LogoutDelivery

MAX_IDS = 1000
# Row ids are INTEGER columns (32 bits on PostgreSQL): a larger number names no row.
MAX_ROW_ID = 2**31 - 1


def _choice(allowed) -> Any:
    def parse(value: str) -> str:
        if value not in allowed:
            raise BadValue(f"must be one of {', '.join(allowed)}")
        return value

    return parse


LOGOUT_FILTERS = (
    Filter(
        "status",
        _choice(DELIVERY_STATUSES),
        {"type": "string", "enum": list(DELIVERY_STATUSES)},
        "Only notices in this state.",
    ),
    Filter("client_id", text_filter(128), text_schema(128), "Only this application's."),
)
MAIL_FILTERS = (
    Filter(
        "status",
        _choice(MAIL_STATUSES),
        {"type": "string", "enum": list(MAIL_STATUSES)},
        "Only messages in this state.",
    ),
    Filter("recipient", text_filter(254), text_schema(254), "Only messages to this address."),
)


def _super_only() -> None:
    if not scope().is_super:
        raise deny(caller().actor, "Deliveries are for provincial super-administrators.")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def logout_json(row: LogoutDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "client_id": row.client_id,
        "sub": row.sub,
        "reason": row.reason,
        "status": row.status,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "next_attempt_at": _iso(row.next_attempt_at),
        "delivered_at": _iso(row.delivered_at),
    }


def mail_json(row: MailMessage) -> dict[str, Any]:
    """Never the body: an activation or reset message holds a single-use link."""
    return {
        "id": row.id,
        "recipient": row.recipient,
        "kind": row.kind,
        "language": row.language,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "next_attempt_at": _iso(row.next_attempt_at),
        "sent_at": _iso(row.sent_at),
        "resendable": mail_outbox.retryable(row),
    }


@bp.get("/deliveries/logout")
@operation(ADMIN_READ)
def list_logout_deliveries():
    _super_only()
    query = parse_query(LOGOUT_FILTERS, key_types=(int,))
    select = sa.select(LogoutDelivery)
    if "status" in query.filters:
        select = select.where(LogoutDelivery.status == query.filters["status"])
    if "client_id" in query.filters:
        select = select.where(LogoutDelivery.client_id == query.filters["client_id"])
    return page_of(
        select, query.page, keys=(LogoutDelivery.id,), render=logout_json, key_of=lambda r: (r.id,)
    )


@bp.get("/deliveries/mail")
@operation(ADMIN_READ)
def list_mail_deliveries():
    _super_only()
    query = parse_query(MAIL_FILTERS, key_types=(int,))
    select = sa.select(MailMessage)
    if "status" in query.filters:
        select = select.where(MailMessage.status == query.filters["status"])
    if "recipient" in query.filters:
        select = select.where(MailMessage.recipient == query.filters["recipient"].lower())
    return page_of(
        select, query.page, keys=(MailMessage.id,), render=mail_json, key_of=lambda r: (r.id,)
    )


def _row_id(value: Any) -> int | None:
    """A row id: a whole number (JSON's 3 or 3.0) from 1 to MAX_ROW_ID, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    number = int(value)
    return number if 0 < number <= MAX_ROW_ID else None


def _ids(data: dict[str, Any]) -> list[int] | None:
    ids = data.get("ids")
    if ids is None:
        return None
    numbers = [_row_id(i) for i in ids] if isinstance(ids, list) else [None]
    if len(numbers) > MAX_IDS or None in numbers:
        raise field_errors(
            [{"pointer": "/ids", "detail": f"must be a list of at most {MAX_IDS} row ids"}]
        )
    return numbers  # type: ignore[return-value]


@bp.post("/deliveries/logout/retry")
@operation(ADMIN_WRITE)
def retry_logout_deliveries():
    _super_only()
    data = json_object()
    ids = _ids(data)
    client_id = data.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 128):
        raise field_errors([{"pointer": "/client_id", "detail": "must be a client_id"}])
    requeued = delivery_retries.retry_logout(ids, client_id, actor=caller().actor)
    commit()
    return jsonify({"requeued": requeued})


@bp.post("/deliveries/mail/retry")
@operation(ADMIN_WRITE)
def retry_mail_deliveries():
    _super_only()
    ids = _ids(json_object())
    requeued, skipped = delivery_retries.retry_mail(ids, actor=caller().actor)
    commit()
    return jsonify({"requeued": requeued, "not_resendable": skipped})


_IDS = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
    "maxItems": MAX_IDS,
}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_SUPER = "Super-administrators only."

OPENAPI = {
    "paths": {
        "/deliveries/logout": {
            "get": operation_doc(
                "List back-channel logout notices",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/LogoutDelivery"),
                parameters=query_parameters(LOGOUT_FILTERS),
                tags=["deliveries"],
                description="Ordered by id. " + _SUPER,
            )
        },
        "/deliveries/mail": {
            "get": operation_doc(
                "List e-mail messages",
                ADMIN_READ,
                ok=page_schema("#/components/schemas/MailDelivery"),
                parameters=query_parameters(MAIL_FILTERS),
                tags=["deliveries"],
                description="Ordered by id; never the message's body. " + _SUPER,
            )
        },
        "/deliveries/logout/retry": {
            "post": operation_doc(
                "Retry failed logout notices now",
                ADMIN_WRITE,
                ok={
                    "type": "object",
                    "required": ["requeued"],
                    "properties": {"requeued": _IDS},
                },
                body={
                    "type": "object",
                    "properties": {
                        "ids": _IDS,
                        "client_id": {"type": "string", "maxLength": 128},
                    },
                },
                tags=["deliveries"],
                description="Failed and given-up notices (these ids, or every one, or every "
                "one of client_id) are due again at once, with a fresh retry period. " + _SUPER,
            )
        },
        "/deliveries/mail/retry": {
            "post": operation_doc(
                "Retry failed e-mail now",
                ADMIN_WRITE,
                ok={
                    "type": "object",
                    "required": ["requeued", "not_resendable"],
                    "properties": {"requeued": _IDS, "not_resendable": _IDS},
                },
                body={"type": "object", "properties": {"ids": _IDS}},
                tags=["deliveries"],
                description="Failed and given-up messages are due again at once; those that "
                "held a single-use link, removed once they failed, are not_resendable. " + _SUPER,
            )
        },
    },
    "components": {
        "schemas": {
            "LogoutDelivery": {
                "type": "object",
                "required": ["id", "client_id", "sub", "status", "attempts"],
                "properties": {
                    "id": {"type": "integer"},
                    "client_id": {"type": "string"},
                    "sub": {"type": "string"},
                    "reason": {"type": "string"},
                    "status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
                    "attempts": {"type": "integer"},
                    "last_status": {"type": ["integer", "null"]},
                    "last_error": _NULLABLE_TEXT,
                    "created_at": _NULLABLE_TEXT,
                    "next_attempt_at": _NULLABLE_TEXT,
                    "delivered_at": _NULLABLE_TEXT,
                },
            },
            "MailDelivery": {
                "type": "object",
                "required": ["id", "recipient", "kind", "status", "attempts", "resendable"],
                "properties": {
                    "id": {"type": "integer"},
                    "recipient": {"type": "string"},
                    "kind": {"type": "string"},
                    "language": {"type": "string"},
                    "subject": {"type": "string"},
                    "status": {"type": "string", "enum": list(MAIL_STATUSES)},
                    "attempts": {"type": "integer"},
                    "last_error": _NULLABLE_TEXT,
                    "created_at": _NULLABLE_TEXT,
                    "next_attempt_at": _NULLABLE_TEXT,
                    "sent_at": _NULLABLE_TEXT,
                    "resendable": {"type": "boolean"},
                },
            },
        }
    },
}
