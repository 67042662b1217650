"""The console's audit log (admin.audit) and its CSV export (admin.audit_export).

Filters: the person an event is about (`subject`: a sub, or an address as typed at a
sign-in), who acted (`actor`), an application (`client`: the events it caused or that are
about it), the event (`action`), its `outcome`, the client address (`ip`, from its
beginning) and a time range (`from`, `to`: dd/MM/yyyy HH:mm in the province's time zone,
as the page shows them). Newest first, one page at a time by keyset on the id (`before`).

A unit administrator sees only the events about people of their units
(AdminScope.filter_events); naming a person outside them is refused (403, "admin.denied").
The export streams the whole filtered result as UTF-8 with a byte-order mark (so Excel
reads Vietnamese right), the time as ISO 8601 with the province's offset (`at`) and as
offices write it (`time`), `detail` as JSON, and every cell that a spreadsheet would read
as a formula (= + - @, tab, carriage return first) prefixed by a quote.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Response, current_app, render_template, request, stream_with_context
from flask_babel import gettext as _

from idp.admin.console import bp, console_page, denied, scope
from idp.admin.permissions import AdminScope
from idp.audit import AuditEvent
from idp.directory.models import normalize_email
from idp.directory.search import LIKE_ESCAPE, escape_like
from idp.directory.store import find_user_by_address, find_user_by_sub
from idp.errors import render_error
from idp.extensions import db
from idp.i18n import DATETIME_FORMAT, local_iso

PAGE_SIZE = 50
EXPORT_BATCH = 1000
FIELD_MAX_LENGTH = 320
_WORD_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_DATE_FORMATS = (DATETIME_FORMAT, "%d/%m/%Y")
# What a spreadsheet reads as the start of a formula (OWASP "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class BadFilter(ValueError):
    """A filter value that cannot be used: the page says 400."""


@dataclass(frozen=True)
class Filters:
    subject: str = ""
    actor: str = ""
    client: str = ""
    action: str = ""
    outcome: str = ""
    ip: str = ""
    start: datetime | None = None
    # Exclusive.
    end: datetime | None = None
    # Typed as they were, for the form and the links.
    start_text: str = ""
    end_text: str = ""

    def query_args(self) -> dict[str, str]:
        args = {
            "subject": self.subject,
            "actor": self.actor,
            "client": self.client,
            "action": self.action,
            "outcome": self.outcome,
            "ip": self.ip,
            "from": self.start_text,
            "to": self.end_text,
        }
        return {k: v for k, v in args.items() if v}


def parse_local_time(text: str, field: str = "time") -> datetime | None:
    """dd/MM/yyyy HH:mm (or dd/MM/yyyy) in the province's time zone, as UTC; BadFilter
    naming `field` otherwise."""
    text = " ".join(text.split())
    if not text:
        return None
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
        except ValueError:
            continue
    raise BadFilter(field)


def _text(name: str, *, word: bool = False) -> str:
    value = request.args.get(name, "").strip()
    if not value:
        return ""
    if len(value) > FIELD_MAX_LENGTH or not value.isprintable():
        raise BadFilter(name)
    if word and not _WORD_RE.match(value):
        raise BadFilter(name)
    return value


def read_filters() -> Filters:
    start_text, end_text = _text("from"), _text("to")
    start, end = parse_local_time(start_text, "from"), parse_local_time(end_text, "to")
    if start and end and end < start:
        raise BadFilter("range")
    if end is not None:
        # The minute typed is included.
        end += timedelta(minutes=1)
    ip = _text("ip")
    if ip and not re.match(r"^[0-9A-Fa-f.:]{1,64}$", ip):
        raise BadFilter("ip")
    return Filters(
        subject=_text("subject"),
        actor=_text("actor"),
        client=_text("client"),
        action=_text("action", word=True),
        outcome=_text("outcome", word=True),
        ip=ip,
        start=start,
        end=end,
        start_text=start_text,
        end_text=end_text,
    )


def _subjects(typed: str) -> list[str]:
    """What an event's subject may be for a typed person: the sub, and for an address the
    address as typed and the sub of its owner."""
    found = [typed]
    if "@" in typed:
        found.append(normalize_email(typed))
        owner = find_user_by_address(typed)
        if owner is not None:
            found.append(owner.sub)
    return found


def person_outside_scope(typed: str, admin_scope: AdminScope) -> bool:
    """A unit administrator names a person who is not theirs."""
    if admin_scope.is_super:
        return False
    owner = find_user_by_address(typed) if "@" in typed else find_user_by_sub(typed)
    return owner is None or not admin_scope.covers_user(owner)


def filtered(filters: Filters, admin_scope: AdminScope) -> sa.Select:
    """The events matching `filters` that `admin_scope` may see, newest first (the console
    and the admin API)."""
    query = sa.select(AuditEvent)
    if filters.subject:
        query = query.where(AuditEvent.subject.in_(_subjects(filters.subject)))
    if filters.actor:
        query = query.where(AuditEvent.actor.in_(_subjects(filters.actor)))
    if filters.client:
        query = query.where(
            sa.or_(AuditEvent.actor == filters.client, AuditEvent.subject == filters.client)
        )
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.outcome:
        query = query.where(AuditEvent.outcome == filters.outcome)
    if filters.ip:
        query = query.where(AuditEvent.ip.like(escape_like(filters.ip) + "%", escape=LIKE_ESCAPE))
    if filters.start:
        query = query.where(AuditEvent.at >= filters.start)
    if filters.end:
        query = query.where(AuditEvent.at < filters.end)
    return admin_scope.filter_events(query).order_by(AuditEvent.id.desc())


# audit_events.id is an INTEGER column (32 bits on PostgreSQL, which refuses a larger number
# with an error): a cursor beyond it is no cursor of this log.
MAX_EVENT_ID = 2**31 - 1


def bad_filter_message(field: str) -> str:
    """What the 400 page says about a refused filter: which field, and what it must be."""
    moment = _("hãy viết theo dạng dd/mm/yyyy hh:mm (ví dụ 06/12/2026 08:30) hoặc dd/mm/yyyy.")
    messages = {
        "from": _("Ô “Từ” không hợp lệ: %(rule)s", rule=moment),
        "to": _("Ô “Đến” không hợp lệ: %(rule)s", rule=moment),
        "range": _("Thời điểm ở ô “Đến” phải sau thời điểm ở ô “Từ”."),
        "ip": _(
            "Ô “Địa chỉ IP” chỉ gồm chữ số, chữ cái a–f, dấu chấm và dấu hai chấm "
            "(ví dụ 10.1. hoặc 2001:db8:)."
        ),
        "action": _(
            "Ô “Sự kiện” chỉ gồm chữ cái không dấu, chữ số và các dấu . _ : - (ví dụ login)."
        ),
        "outcome": _(
            "Ô “Kết quả” chỉ gồm chữ cái không dấu, chữ số và các dấu . _ : - (ví dụ failure)."
        ),
    }
    return messages.get(
        field,
        _(
            "Một điều kiện lọc quá dài (tối đa %(n)s ký tự) hoặc có ký tự không in được.",
            n=FIELD_MAX_LENGTH,
        ),
    )


def _before(raw: str | None) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_EVENT_ID:
        raise BadFilter("before")
    return int(raw)


def _checked_filters() -> Filters | Any:
    """The request's filters, or the response refusing them (400, or 403 out of scope)."""
    try:
        filters = read_filters()
    except BadFilter as bad:
        return render_error(400, message=bad_filter_message(str(bad)))
    if filters.subject and person_outside_scope(filters.subject, scope()):
        return denied(scope().actor)
    return filters


@bp.get("/audit")
@console_page
def audit():
    filters = _checked_filters()
    if not isinstance(filters, Filters):
        return filters
    try:
        before = _before(request.args.get("before"))
    except BadFilter:
        return render_error(400, message=_("Điều kiện lọc không hợp lệ."))
    query = filtered(filters, scope())
    if before is not None:
        query = query.where(AuditEvent.id < before)
    events = list(db.session.scalars(query.limit(PAGE_SIZE + 1)))
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    return render_template(
        "admin/audit.html",
        events=events,
        filters=filters,
        next_before=events[-1].id if more else None,
        first_page=before is None,
    )


CSV_COLUMNS = (
    "id",
    "at",
    "time",
    "action",
    "outcome",
    "actor",
    "subject",
    "ip",
    "user_agent",
    "detail",
)


def safe_cell(value: Any) -> str:
    """A CSV cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# The CSV's `time` column: dd/MM/yyyy HH:mm:ss in the province's time zone.
CSV_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
# Written first: Excel then reads the file as UTF-8 (Vietnamese diacritics intact).
UTF8_BOM = "\ufeff"


def _detail_json(detail: Any) -> str:
    if detail is None:
        return ""
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)


def _times(at: datetime | None) -> tuple[str, str]:
    """The `at` and `time` cells of one instant."""
    iso = local_iso(at)
    return iso, datetime.fromisoformat(iso).strftime(CSV_TIME_FORMAT) if iso else ""


def _row(event: AuditEvent) -> list[str]:
    values = [
        event.id,
        *_times(event.at),
        event.action,
        event.outcome,
        event.actor,
        event.subject,
        event.ip,
        event.user_agent,
        _detail_json(event.detail),
    ]
    return [safe_cell(v) for v in values]


def export_rows(query: sa.Select) -> Iterator[str]:
    """The CSV text, one batch of events at a time (keyset on the id, newest first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(UTF8_BOM)
    writer.writerow(CSV_COLUMNS)
    before: int | None = None
    while True:
        batch_query = query if before is None else query.where(AuditEvent.id < before)
        batch = list(db.session.scalars(batch_query.limit(EXPORT_BATCH)))
        for event in batch:
            writer.writerow(_row(event))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < EXPORT_BATCH:
            return
        before = batch[-1].id
        db.session.expunge_all()


@bp.get("/audit.csv")
@console_page
def audit_export():
    filters = _checked_filters()
    if not isinstance(filters, Filters):
        return filters
    rows = stream_with_context(export_rows(filtered(filters, scope())))
    return Response(
        rows,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="nhat-ky.csv"'},
    )
