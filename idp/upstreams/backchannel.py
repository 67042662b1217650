"""An upstream tells us its session ended: OpenID Connect Back-Channel Logout 1.0 from the
relying party's side (docs/upstreams.md, "Signing out").

The upstream POSTs a logout token to /login/upstream/<name>/backchannel-logout. It is
validated fully (section 2.6) before anything ends:

1. a compact JWS no larger than MAX_TOKEN_BYTES, `typ` absent, `JWT` or `logout+jwt`;
2. signed with one of the upstream's keys (its JWKS, fetched through the broker's client,
   re-fetched once for an unknown `kid`) by an algorithm its settings allow;
3. `iss` is the upstream's issuer, `aud` names our client id;
4. `iat` neither in the future nor older than UPSTREAM_LOGOUT_TOKEN_MAX_AGE_SECONDS (and
   `exp`, when present, not passed), both with UPSTREAM_CLOCK_SKEW_SECONDS;
5. `events` holds the back-channel logout event as a JSON object;
6. no `nonce` (a logout token must never be mistakable for an ID token);
7. `sub` and/or `sid` present;
8. `jti` seen for the first time (replay cache: upstream_logout_tokens, rows kept only as
   long as the token could be accepted, so the table stays bounded).

Then the SSO sessions that upstream started for that `sid` (or for every session of that
`sub`) end with single sign-out to our relying parties (idp.sessions.logout). A valid token
for a session we do not know is answered 200 all the same (the spec's "no session" case);
every rejection is 400 with an OAuth-style error, and an audit event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import audit, jsontext
from idp.extensions import db
from idp.sessions.logout import end_sessions
from idp.upstreams import store
from idp.upstreams.config import Upstream
from idp.upstreams.logout_models import UpstreamLogoutToken

EVENT_BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"
MAX_TOKEN_BYTES = 16 * 1024
TYPES_ACCEPTED = (None, "JWT", "logout+jwt")
# SsoSession.end_reason of the sessions an upstream's logout token ends.
REASON_UPSTREAM_LOGOUT = "upstream_logout"
# The most live jti rows kept per upstream; above it tokens are refused (an upstream that
# sends more logout tokens within their lifetime is misbehaving, not logging people out).
MAX_LIVE_TOKENS = 50_000


class LogoutTokenRejected(Exception):
    """Not a logout token we accept; `reason` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LogoutClaims:
    sub: str | None
    sid: str | None
    jti: str
    # Until when the token could be accepted: how long its jti is remembered.
    usable_until: datetime


def _payload(token: str, keys: KeySet, upstream: Upstream) -> tuple[dict, dict]:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
        raise LogoutTokenRejected("no logout token, or too large")
    if token.count(".") != 2:
        raise LogoutTokenRejected("not a compact JWS")
    try:
        signed = jws.deserialize_compact(token, keys, algorithms=list(upstream.id_token_algs))
    except (JoseError, ValueError, TypeError, KeyError):
        raise LogoutTokenRejected("bad signature, unknown key or algorithm not allowed") from None
    header = signed.headers()
    if header.get("typ") not in TYPES_ACCEPTED:
        raise LogoutTokenRejected("wrong typ")
    try:
        claims = jsontext.loads(signed.payload, max_length=MAX_TOKEN_BYTES, max_depth=8)
    except jsontext.InvalidJson:
        raise LogoutTokenRejected("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise LogoutTokenRejected("payload is not a JSON object")
    return header, claims


def _check_audience(claims: dict[str, Any], upstream: Upstream) -> None:
    if claims.get("iss") != upstream.issuer:
        raise LogoutTokenRejected("wrong iss")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if upstream.client_id not in audiences:
        raise LogoutTokenRejected("wrong aud")


def _check_times(claims: dict[str, Any], now: datetime, skew: int, max_age: int) -> datetime:
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise LogoutTokenRejected("iat missing")
    issued = datetime.fromtimestamp(iat, UTC)
    if issued > now + timedelta(seconds=skew):
        raise LogoutTokenRejected("iat in the future")
    if issued < now - timedelta(seconds=max_age + skew):
        raise LogoutTokenRejected("too old")
    usable_until = issued + timedelta(seconds=max_age + 2 * skew)
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise LogoutTokenRejected("exp is not a number")
        if datetime.fromtimestamp(exp, UTC) < now - timedelta(seconds=skew):
            raise LogoutTokenRejected("expired")
    return usable_until


def _check_content(claims: dict[str, Any]) -> tuple[str | None, str | None, str]:
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT_BACKCHANNEL_LOGOUT), dict):
        raise LogoutTokenRejected("events missing the back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenRejected("nonce present")
    sub, sid = claims.get("sub"), claims.get("sid")
    for value in (sub, sid):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 255):
            raise LogoutTokenRejected("sub or sid is not a short string")
    if sub is None and sid is None:
        raise LogoutTokenRejected("neither sub nor sid")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise LogoutTokenRejected("jti missing")
    return sub, sid, jti


def verify_logout_token(
    token: str, keys: KeySet, upstream: Upstream, *, now: datetime, skew: int, max_age: int
) -> LogoutClaims:
    """The claims of a logout token that passes every check above but the replay one;
    LogoutTokenRejected otherwise."""
    _header, claims = _payload(token, keys, upstream)
    _check_audience(claims, upstream)
    usable_until = _check_times(claims, now, skew, max_age)
    sub, sid, jti = _check_content(claims)
    return LogoutClaims(sub=sub, sid=sid, jti=jti, usable_until=usable_until)


def key_id(token: str) -> str | None:
    """The `kid` of a token's header, unverified (to decide whether to re-fetch the JWKS)."""
    try:
        return jws.extract_compact(token.encode()).headers().get("kid")
    except (JoseError, ValueError, TypeError, UnicodeError):
        return None


# ---------------------------------------------------------------- replay


def _jti_hash(upstream: str, jti: str) -> str:
    return hashlib.sha256(f"{upstream}\x00{jti}".encode()).hexdigest()


def note_token(upstream: str, claims: LogoutClaims, now: datetime) -> bool:
    """Remember the token's jti until it could no longer be accepted; False when it was
    seen before (a replay) or the cache is full. Expired rows are removed first."""
    db.session.execute(sa.delete(UpstreamLogoutToken).where(UpstreamLogoutToken.expires_at <= now))
    digest = _jti_hash(upstream, claims.jti)
    seen = db.session.execute(
        sa.select(UpstreamLogoutToken.id).where(UpstreamLogoutToken.jti_hash == digest)
    ).first()
    if seen is not None:
        return False
    live = db.session.execute(
        sa.select(sa.func.count())
        .select_from(UpstreamLogoutToken)
        .where(UpstreamLogoutToken.upstream == upstream)
    ).scalar_one()
    if live >= MAX_LIVE_TOKENS:
        return False
    db.session.add(
        UpstreamLogoutToken(upstream=upstream, jti_hash=digest, expires_at=claims.usable_until)
    )
    # Flushed now: a parallel request with the same jti fails on the unique index.
    db.session.flush()
    return True


# ---------------------------------------------------------------- ending sessions


def end_linked_sessions(upstream: Upstream, claims: LogoutClaims, now: datetime) -> list[str]:
    """End the sessions the token names, with single sign-out; the sids ended."""
    rows = store.upstream_sessions_of(upstream.name, sub=claims.sub, sid=claims.sid)
    result = end_sessions(
        [row.sso_session_id for row in rows], reason=REASON_UPSTREAM_LOGOUT, now=now
    )
    audit.record(
        "upstream.backchannel_logout",
        actor=f"upstream:{upstream.name}",
        subject=claims.sub,
        detail={
            "upstream_sid": claims.sid,
            "sids": result.sids,
            "notices": len(result.delivery_ids),
        },
    )
    return result.sids


def refuse(upstream: Upstream, reason: str, origin: dict[str, Any]) -> None:
    audit.record(
        "upstream.backchannel_logout",
        actor=f"upstream:{upstream.name}",
        outcome="refused",
        detail={"reason": reason},
        **origin,
    )
