"""Single sign-out: ending SSO sessions and telling every relying party that used them.

Whatever ends a session comes through `end_sessions`: the sign-out page, RP-Initiated
Logout, the account page, `idp sessions revoke`, disabling an account, and signing in as
someone else in the same browser. In one transaction it

1. ends each session that is still open (once, even when two sign-outs race),
2. queues a back-channel logout notice for every client that received an ID token in it
   and registered a backchannel_logout_uri (idp.sessions.outbox; delivered after commit),
3. revokes the session's grants without offline_access (refresh tokens and the access
   tokens already out there). Grants with offline_access are meant to outlive the
   session (OpenID Connect Core 11) and survive a sign-out; disabling an account revokes
   them too.

For the browser's own session it also returns the front-channel logout frames
(Front-Channel Logout 1.0 section 3) that the signed-out page must load.
The caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import current_app

from idp import audit
from idp.directory.models import User
from idp.extensions import utcnow
from idp.sessions import hooks
from idp.sessions import store as session_store
from idp.sessions.models import SsoSession

# SsoSession.end_reason values.
REASON_LOGOUT = "logout"  # the provider's own sign-out page
REASON_RP_LOGOUT = "rp_logout"  # RP-Initiated Logout
REASON_ACCOUNT = "account"  # the person, from the account page
REASON_ADMIN = "admin"  # an administrator (idp sessions revoke)
REASON_REPLACED = "replaced"  # someone else signed in in the same browser


@dataclass(frozen=True)
class FrontChannelFrame:
    """An iframe of the signed-out page: a relying party's frontchannel_logout_uri."""

    client_id: str
    client_name: str
    url: str
    # scheme://host[:port], for the page's Content-Security-Policy frame-src.
    origin: str


@dataclass
class LogoutResult:
    sids: list[str] = field(default_factory=list)
    # Outbox rows queued (back-channel notices).
    delivery_ids: list[int] = field(default_factory=list)
    grants_revoked: int = 0
    frames: list[FrontChannelFrame] = field(default_factory=list)
    # Names of the applications signed out of (for the signed-out page).
    client_names: list[str] = field(default_factory=list)
    # Set by a receiver of hooks.session_ended for the browser's own session: where the
    # browser goes, after our relying parties were told, before the sign-out's destination
    # (an upstream provider's own sign-out, idp.upstreams.signout); given that destination
    # (None: the signed-out page), it returns the URL to go to instead.
    continue_through: Callable[[str | None], str] | None = None


def with_query(uri: str, params: dict[str, str]) -> str:
    """The URI with these query parameters added to the ones it has (kept in order)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def frontchannel_frame(client, sid: str, issuer: str) -> FrontChannelFrame:
    """Front-Channel Logout 1.0 section 2: iss and sid when the client requires them."""
    url = client.meta("frontchannel_logout_uri")
    if client.meta("frontchannel_logout_session_required"):
        url = with_query(url, {"iss": issuer, "sid": sid})
    return FrontChannelFrame(client.client_id, client.client_name, url, origin_of(url))


def end_sessions(
    session_ids: list[int],
    *,
    reason: str,
    now: datetime | None = None,
    browser_sid: str | None = None,
) -> LogoutResult:
    """End these sessions and queue their relying parties' logout notices (caller commits).

    `browser_sid`: the session of the browser making the request, whose front-channel
    frames the response will show. Steps 2 and 3 are the protocol's: it receives
    hooks.session_ended (idp.oidc.single_logout) and fills in the result.
    """
    now = now or utcnow()
    ended = session_store.end_sessions(session_ids, reason, now)
    result = LogoutResult(sids=[e.sid for e in ended])
    if not ended:
        return result
    hooks.session_ended.send(
        current_app._get_current_object(),
        ended=ended,
        reason=reason,
        now=now,
        browser_sid=browser_sid,
        result=result,
    )
    return result


def sign_out_browser(
    sso: SsoSession, *, reason: str, actor: str | None = None, origin: dict | None = None
) -> LogoutResult:
    """The person signs out in this browser (sign-out page, RP-Initiated Logout)."""
    user = sso.user
    result = end_sessions([sso.id], reason=reason, browser_sid=sso.sid)
    if result.sids:
        audit.record(
            "logout",
            actor=actor or user.sub,
            subject=user.sub,
            detail={"sid": sso.sid, "reason": reason, "notices": len(result.delivery_ids)},
            **(origin or {}),
        )
    return result


def end_user_sessions(
    user: User,
    *,
    reason: str,
    actor: str,
    sid: str | None = None,
    browser_sid: str | None = None,
    origin: dict | None = None,
) -> LogoutResult:
    """End one (`sid`) or every open session of a person (account page, administrators)."""
    now = utcnow()
    ids = session_store.open_session_ids([user.id], now, sid=sid)
    result = end_sessions(ids, reason=reason, now=now, browser_sid=browser_sid)
    if result.sids:
        audit.record(
            "session.end",
            actor=actor,
            subject=user.sub,
            detail={"sids": result.sids, "reason": reason, "notices": len(result.delivery_ids)},
            **(origin or {}),
        )
    return result


def end_sessions_of_users(user_ids: list[int], reason: str) -> int:
    """Accounts that may no longer sign in: end their sessions, notify their relying
    parties and revoke every grant, offline ones included (hooks.access_withdrawn).
    Returns sessions ended."""
    if not user_ids:
        return 0
    now = utcnow()
    result = end_sessions(session_store.open_session_ids(user_ids, now), reason=reason, now=now)
    hooks.access_withdrawn.send(
        current_app._get_current_object(), user_ids=user_ids, reason=reason, now=now
    )
    return len(result.sids)
