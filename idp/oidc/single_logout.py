"""The protocol's part in ending SSO sessions (idp.sessions.logout announces, this acts).

Subscribed in idp.oidc.init_app to idp.sessions.hooks:

- session_ended: for every client that received an ID token in an ended session, a
  back-channel logout notice when it registered a backchannel_logout_uri (Back-Channel
  Logout 1.0 section 2.5; idp.sessions.outbox, delivered after commit), the browser's
  front-channel frames (Front-Channel Logout 1.0 section 3), then the sessions' grants
  without offline_access revoked (OpenID Connect Core 11: offline access outlives the
  session).
- access_withdrawn: every grant of the accounts, offline ones included.

It also provides what idp.sessions needs to know about clients (hooks.RelyingParties).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app

from idp.clients import store as clients_store
from idp.oidc import store as oidc_store
from idp.oidc.grants import family_revocation_until
from idp.oidc.tokens import id_token_alg
from idp.sessions import hooks, outbox
from idp.sessions import store as session_store
from idp.sessions.logout import LogoutResult, frontchannel_frame


def _revoke_grants(grants, reason: str, now: datetime, clients: dict) -> int:
    for grant in grants:
        if grant.client_id not in clients:
            clients[grant.client_id] = clients_store.find_active_client(grant.client_id)
        client = clients[grant.client_id]
        until = family_revocation_until(client, now) if client else grant.expires_at
        oidc_store.revoke_grant_family(grant.gid, until=until, reason=reason, now=now)
    return len(grants)


def on_session_ended(
    _app: Any,
    *,
    ended: list[session_store.EndedSession],
    reason: str,
    now: datetime,
    browser_sid: str | None,
    result: LogoutResult,
) -> None:
    issuer = current_app.config["ISSUER"]
    by_session = session_store.participants([e.id for e in ended])
    clients: dict = {}
    notices = []
    for session in ended:
        for client_id in by_session.get(session.id, []):
            if client_id not in clients:
                clients[client_id] = clients_store.find_active_client(client_id)
            client = clients[client_id]
            if client is None:
                continue
            if client.meta("backchannel_logout_uri"):
                notices.append(outbox.Notice(client_id, session.sub, session.sid, reason))
            if session.sid == browser_sid:
                result.client_names.append(client.client_name)
                if client.meta("frontchannel_logout_uri"):
                    result.frames.append(frontchannel_frame(client, session.sid, issuer))
    result.delivery_ids = outbox.enqueue(
        notices, retry_seconds=int(current_app.config["LOGOUT_RETRY_SECONDS"]), now=now
    )
    for session in ended:
        grants = [g for g in oidc_store.live_grants(sso_session_id=session.id) if not g.offline]
        result.grants_revoked += _revoke_grants(grants, "logout", now, clients)


def on_access_withdrawn(_app: Any, *, user_ids: list[int], reason: str, now: datetime) -> None:
    clients: dict = {}
    for user_id in sorted(set(user_ids)):
        _revoke_grants(oidc_store.live_grants(user_id=user_id), reason, now, clients)


def init_app(app: Flask) -> None:
    hooks.session_ended.connect(on_session_ended, sender=app)
    hooks.access_withdrawn.connect(on_access_withdrawn, sender=app)
    hooks.provide_relying_parties(
        app,
        hooks.RelyingParties(find_client=clients_store.find_active_client, token_alg=id_token_alg),
    )
