"""What the account page shows: recent sign-ins and a readable name for each device."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from idp.audit import AuditEvent
from idp.extensions import db

RECENT_SIGN_INS = 10

# (pattern, name), first match wins: Edge and Opera also say "Chrome", Chrome says "Safari".
_BROWSERS = [
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"CocCoc|coc_coc", "Cốc Cốc"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
]
_SYSTEMS = [
    (r"Android", "Android"),
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
]


@dataclass(frozen=True)
class SignIn:
    at: datetime
    ip: str | None
    device: str
    user_agent: str | None


def describe_device(user_agent: str | None) -> str:
    """ "Chrome · Windows" from a User-Agent header; the raw header when nothing is known."""
    if not user_agent:
        return ""
    browser = next((name for pat, name in _BROWSERS if re.search(pat, user_agent)), None)
    system = next((name for pat, name in _SYSTEMS if re.search(pat, user_agent)), None)
    parts = [p for p in (browser, system) if p]
    return " · ".join(parts) if parts else user_agent[:60]


def recent_sign_ins(sub: str, limit: int = RECENT_SIGN_INS) -> list[SignIn]:
    """The user's latest successful sign-ins, newest first, from the audit log."""
    events = db.session.execute(
        sa.select(AuditEvent)
        .where(
            AuditEvent.action == "login",
            AuditEvent.subject == sub,
            AuditEvent.outcome == "success",
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).scalars()
    return [SignIn(e.at, e.ip, describe_device(e.user_agent), e.user_agent) for e in events]
