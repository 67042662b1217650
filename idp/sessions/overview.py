"""What the account page and `idp sessions list` show about a person's sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idp.extensions import utcnow
from idp.sessions import hooks
from idp.sessions import store as session_store
from idp.sessions.devices import describe_device


@dataclass(frozen=True)
class SessionView:
    sid: str
    current: bool
    device: str
    user_agent: str | None
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    remember: bool
    # Names of the applications that signed in through this session, first used first.
    apps: list[str]
    app_ids: list[str]


def live_sessions(user_id: int, current_sid: str | None = None) -> list[SessionView]:
    """Every live session of a person, the most recently active first."""
    find_client = hooks.relying_parties().find_client
    now = utcnow()
    sessions = session_store.live_sessions_of(user_id, now)
    by_session = session_store.participants([s.id for s in sessions])
    names: dict[str, str] = {}
    views = []
    for sso in sessions:
        app_ids = by_session.get(sso.id, [])
        for client_id in app_ids:
            if client_id not in names:
                client = find_client(client_id)
                names[client_id] = client.client_name if client else client_id
        views.append(
            SessionView(
                sid=sso.sid,
                current=sso.sid == current_sid,
                device=describe_device(sso.user_agent),
                user_agent=sso.user_agent,
                ip=sso.ip,
                created_at=sso.created_at,
                last_seen_at=sso.last_seen_at,
                expires_at=sso.expires_at,
                remember=sso.remember,
                apps=[names[c] for c in app_ids],
                app_ids=list(app_ids),
            )
        )
    views.sort(key=lambda v: (not v.current, -v.last_seen_at.timestamp()))
    return views
